"""Training on extracted features: the paper-scale recipe, a small preset, and the runner.

Both presets follow the instantaneous-to-mean curriculum (method.md 2.8): a flow-matching stage,
then a MeanFlow fine-tune (75% of rows r = t) that starts from the flow-matching weights. From
a published MMAudio network the flow-matching stage is already done (MMAudio's own 300k steps):
run only the `meanflow` stage (`--stages meanflow --init mmaudio-small-16k`).

`paper`: MMAudio's training settings for the flow-matching stage (method.md 3.9: batch 512,
300k iterations, lr 1e-4, 1k warm-up, weight decay 1e-6, clip 1.0, bf16, null probability 0.1,
t ~ sigmoid(N(0, 1))) and MeanAudio's MeanFlow fine-tune (3.11: batch 32 x 4 GPUs = 128, 200k
iterations, lr 1e-4, clip 1.0, bf16 with the JVP in fp32, init from the flow-matching model).
MMAudio decays the rate in steps (x0.1 at 240k and 270k); the loop's cosine to 1% approximates
it. The MF-MJT paper does not publish its own schedule (method.md 7).

`small`: the same two stages sized for a 2-core CPU on a handful of clips, with our small
network (the embedded model's MM-DiT widths).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mfmjt_core.network import NetworkConfig
from mfmjt_core.training.recipes import Stage, tiny_synth_spec
from mfmjt_core.training.train_config import NO_PICTURES, ObjectiveConfig, OptimConfig, TrainConfig, apply_overrides

SMALL_NETWORK = tiny_synth_spec().network


@dataclass(frozen=True)
class FeaturePreset:
    name: str
    variant: str | NetworkConfig  # the network trained from scratch (widths follow the features)
    stages: tuple[Stage, ...]
    description: str


SMALL = FeaturePreset(
    name="small",
    variant=SMALL_NETWORK,
    stages=(
        Stage("fm", TrainConfig(
            steps=300, batch_size=16, seed=0, null_video=0.1, null_text=0.1,
            objective=ObjectiveConfig(kind="fm", mu=0.0, sigma=1.0),
            optim=OptimConfig(lr=1e-3, warmup_steps=30, decay="cosine", min_lr_ratio=0.1, ema_decay=0.99),
            log_every=10, checkpoint_every=50,
        )),
        Stage("meanflow", TrainConfig(
            steps=150, batch_size=16, seed=1, null_video=0.1, null_text=0.1,
            objective=ObjectiveConfig(kind="meanflow", mu=-0.4, sigma=1.0, equal_fraction=0.75),
            optim=OptimConfig(lr=3e-4, warmup_steps=15, decay="cosine", min_lr_ratio=0.1, ema_decay=0.99),
            log_every=10, checkpoint_every=50,
        )),
    ),
    description="our small MM-DiT, flow matching then MeanFlow, sized for a CPU",
)

PAPER = FeaturePreset(
    name="paper",
    variant="small_16k",
    stages=(
        Stage("fm", TrainConfig(
            steps=300_000, batch_size=512, seed=0, null_video=0.1, null_text=0.1, precision="bf16",
            objective=ObjectiveConfig(kind="fm", mu=0.0, sigma=1.0),
            optim=OptimConfig(lr=1e-4, weight_decay=1e-6, warmup_steps=1_000, decay="cosine",
                              min_lr_ratio=0.01, grad_clip=1.0, ema_decay=0.9999),
            log_every=100, checkpoint_every=5_000,
        )),
        Stage("meanflow", TrainConfig(
            steps=200_000, batch_size=128, seed=1, null_video=0.1, null_text=0.1, precision="bf16",
            objective=ObjectiveConfig(kind="meanflow", mu=-0.4, sigma=1.0, equal_fraction=0.75,
                                      jvp_fp32=True),
            optim=OptimConfig(lr=1e-4, weight_decay=1e-6, warmup_steps=1_000, decay="constant", grad_clip=1.0,
                              ema_decay=0.9999),
            log_every=100, checkpoint_every=5_000,
        )),
    ),
    description="MMAudio's flow-matching settings, then MeanAudio's MeanFlow fine-tune (many GPUs)",
)

PRESETS: dict[str, FeaturePreset] = {p.name: p for p in (SMALL, PAPER)}


def parse_data(items: Sequence[str]) -> tuple[list[str], list[float]]:
    """["vgg", "audiocaps:0.5"] -> folders and mixing weights (default 1)."""
    folders, weights = [], []
    for item in items:
        head, sep, tail = item.rpartition(":")
        try:
            weight = float(tail) if sep else 1.0
            folders.append(head if sep else item)
        except ValueError:
            weight = 1.0
            folders.append(item)
        weights.append(weight)
    return folders, weights


def stages_from_config_file(path: str | os.PathLike) -> tuple[Stage, ...]:
    """A saved run's `config.json` (one TrainConfig) as a single stage named "train"."""
    return (Stage("train", TrainConfig.from_dict(json.loads(Path(path).read_text()))),)


def run_features(
    preset: FeaturePreset,
    data: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    init: str = "scratch",
    variant: str | None = None,
    device: str = "cpu",
    workers: int = 0,
    overrides: dict[str, list[str]] | None = None,
    minutes: float | None = None,
    stages: Sequence[str] | None = None,
    config_file: str | None = None,
    progress: Callable[[dict], None] | None = None,
    session_deadline: float | None = None,
) -> Path:
    """Run the chosen stages in order; the first starts from `init`, each later one from the
    previous stage's EMA export. Returns the last export. Works alone or under torchrun.
    `session_deadline` (monotonic) or SIGTERM checkpoints and raises `TrainingStopped`."""
    from mfmjt_core.training.feature_task import FeatureTask, FeatureTaskError, initial_network
    from mfmjt_core.training.features_store import FeatureSet
    from mfmjt_core.training.loop import print_progress, train

    all_stages = stages_from_config_file(config_file) if config_file else preset.stages
    chosen = [s for s in all_stages if stages is None or s.name in stages]
    if stages is not None and len(chosen) != len(set(stages)):
        raise ValueError(f"unknown stage in {list(stages)}; known: {', '.join(s.name for s in all_stages)}")
    overrides = overrides or {}
    configs = [apply_overrides(s.config, overrides.get(s.name, []) + overrides.get("all", [])) for s in chosen]
    if any(c.changes_pictures for c in configs):  # before any data is read
        raise FeatureTaskError(NO_PICTURES)
    folders, weights = parse_data(data)
    sets = [FeatureSet(f) for f in folders]
    shapes = _shapes(sets)
    out = Path(out_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "run.json").write_text(json.dumps({
            "command": sys.orig_argv, "world_size": int(os.environ.get("WORLD_SIZE", "1")),
            "preset": preset.name, "data": list(data), "init": init, "variant": variant,
            "stages": [s.name for s in chosen], "config_file": config_file, "overrides": overrides,
        }, indent=1))
    costs = [s.config.steps * (2 if s.config.objective.kind == "meanflow" else 1) for s in chosen]
    clock = time.monotonic()
    previous: str = init
    export: Path | None = None
    for i, (stage, config) in enumerate(zip(chosen, configs)):
        deadline = None
        if minutes is not None:
            clock += minutes * 60 * costs[i] / sum(costs)
            deadline = clock
        if previous == "scratch":
            net = initial_network("scratch", variant or preset.variant, shapes, seed=config.seed)
        else:  # a variant name only matters for a published MMAudio checkpoint given as --init
            net = initial_network(previous, variant if previous == init else None, shapes, seed=config.seed)
        task = FeatureTask(net, sets, seed=config.seed, weights=weights,
                           name=f"mfmjt-{preset.name}-{stage.name}")
        if previous == "scratch":
            task.init_statistics()
        export = train(task, config, out / stage.name, device=device, workers=workers,
                       progress=progress or print_progress, deadline=deadline,
                       session_deadline=session_deadline)
        previous = str(export)
    assert export is not None, "no stage chosen"
    return export


def _shapes(sets) -> dict:
    from mfmjt_core.training.feature_task import check_compatible

    shapes = check_compatible(sets)
    shapes["samples_per_latent"] = sets[0].index.get("samples_per_latent", 512)
    return shapes
