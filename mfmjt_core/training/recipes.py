"""Named training recipes: a model spec plus its stages (flow matching, then MeanFlow).

The instantaneous-to-mean curriculum (method.md 2.8): learn the instantaneous velocity with
flow matching first, then fine-tune with the MeanFlow objective (method.md: 75% of rows r = t;
the embedded model uses half, which learned the one-step map faster on this budget), starting
from the flow-matching weights. Stages are plain `TrainConfig`s run by the one training loop.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mfmjt_core.codec.mel_codec import MelCodecConfig
from mfmjt_core.encoders.small import SmallEncoderConfig
from mfmjt_core.model import AudioModel, MelCodecSpec, ModelSpec, SamplingDefaults, SmallEncodersSpec
from mfmjt_core.model.file import rewrite_config
from mfmjt_core.network import NetworkConfig, SequenceConfig
from mfmjt_core.synth.prompts import TEMPLATES_ONLY, PromptMix
from mfmjt_core.training.train_config import ObjectiveConfig, OptimConfig, TrainConfig, apply_overrides


@dataclass(frozen=True)
class Stage:
    name: str
    config: TrainConfig
    init_from: str | None = None  # start from this stage's export (default: the previous stage's)
    optional: bool = False  # run only when named (e.g. a baseline for evaluation)
    # changes to the starting model's network, e.g. (("guidance_input", True),): the network is
    # rebuilt with them, the old weights load, the new parts keep their (zero) initialisation
    network: tuple[tuple[str, object], ...] = ()
    # how many rows see a user's phrasing instead of the template caption (`synth/prompts.py`)
    prompts: PromptMix = TEMPLATES_ONLY


@dataclass(frozen=True)
class Recipe:
    name: str
    spec: ModelSpec
    stages: tuple[Stage, ...]
    description: str


# The loudest log-mel per band of the world's audio (`world_log_mel_ceiling` over 400 train
# clips; a test measures it again): the decoder caps samples there. Without it the embedded
# model's one-step takes overshot full scale in 11 of 16 validation clips, by up to 20 dB.
WORLD_LOG_MEL_CEILING = (
    0.728, 0.781, 0.466, 0.606, 0.614, 0.655, 0.759, 0.625, 0.699, 0.485, 0.708, 0.548, 0.534, 0.423, 0.221,
    0.003, 0.25, 0.048, 0.008, 0.04, 0.02, -0.274, -0.535, -0.755, -0.621, -1.0, -1.18, -0.953, -1.052,
    -1.075, -1.574, -1.761,
)


def tiny_synth_spec() -> ModelSpec:
    return ModelSpec(
        name="mfmjt-tiny-synth",
        network=NetworkConfig(
            name="tiny_synth", latent_dim=64, hidden_dim=64, depth=4, fused_depth=2, num_heads=2,
            clip_dim=64, sync_dim=64, text_dim=64, time_convention="meanflow",
            sequence=SequenceConfig(duration=8.0, sample_rate=16_000, hop_length=256),
        ),
        # vocab 8191 (prime): the world's caption words fold onto distinct ids (a test checks)
        encoders=SmallEncodersSpec(SmallEncoderConfig(
            frame_size=32, vocab_size=8191, sync_layout="frames", clip_dim=64, sync_dim=64,
            text_dim=64, clip_channels=(16, 32, 64), sync_channels=(8, 16, 32), text_heads=2,
        )),
        # 32 mel bands x 2 frames = 64 channels per latent: a latent wider than the network
        # (160 channels into a 64-wide model) left samples noisy after a CPU-hour of training.
        codec=MelCodecSpec(MelCodecConfig(n_mels=32, stack=2, log_mel_ceiling=WORLD_LOG_MEL_CEILING)),
        window_s=8.0,
        objective="meanflow",
        # Unguided by default: on 16 validation clips guidance (scale 1.5-3, any rescale) lowered
        # the one-step onset F1 (0.27 -> 0.24-0.15) and raised the Fréchet distance 5-15x.
        # Temperature 0.75, chosen on the same clips (video-to-audio, one step): onset F1 0.27 ->
        # 0.37 and Fréchet distance 931 -> 714 (0.5: 0.33, 0.25: 0.33; the current recipe's model:
        # 0.34 at 0.9, 0.38 at 0.75, 0.35 at 0.6); text-only requests lose (F1 0.04 -> 0.02):
        # without a picture the spread is the content (docs/training.md). So prompt-only requests
        # keep temperature 1: at 0.75 the shipped model's takes were 15-30 dB too quiet and its
        # text-to-audio Fréchet distance doubled (32 validation clips, 1847 vs 3713).
        defaults=SamplingDefaults(steps=1, guidance=1.0, rescale="zero_star", temperature=0.75,
                                  text_temperature=1.0),
    )


# `init_from` naming the package's embedded model instead of a stage of the run.
EMBEDDED_SOURCE = "@embedded"

# Logit-normal mean of the training times of the stages that train a finished model on
# (t = 1 is noise). An 8 s clip has 250 latent frames, so a clip's overall spectrum shows
# through the noise of z_t up to t ~ 0.885 (the noise's time average has variance 1/250, the
# clips' spectra 0.236 per channel): only above that do the conditions decide it, and one-step
# sampling starts at t = 1. The main stages' mu = -0.4 puts 1.5% of the MeanFlow times there,
# 1.2 puts 36% (SD3's resolution-dependent shift s t / (1 + (s - 1) t) is adding ln s to mu).
# Measured in docs/training.md, "Text conditioning".
NOISE_SHIFTED_MU = 1.2

# Half the text the training-on stages read is phrased as users type it ("metal ball bouncing",
# with filler words, or made-up words only): trained on the templates alone, the model answered
# prompts outside their phrasing with near silence once it had learned to read captions.
USER_PROMPTS = PromptMix(user=0.35, filler=0.1, foreign=0.05)

# The alignment probes' share of the loss (`probes.py`): the encoders start from random weights.
PROBE_WEIGHT = 0.5

TINY_SYNTH = Recipe(
    name="tiny-synth",
    spec=tiny_synth_spec(),
    stages=(
        Stage("fm", TrainConfig(
            steps=1000, batch_size=16, seed=0, null_video=0.2, null_text=0.5,
            objective=ObjectiveConfig(kind="fm", mu=0.0, sigma=1.0, probe_weight=PROBE_WEIGHT),
            optim=OptimConfig(lr=1e-3, warmup_steps=100, decay="cosine", min_lr_ratio=0.2, ema_decay=0.995),
            log_every=10, checkpoint_every=100,
        )),
        Stage("meanflow", TrainConfig(
            steps=1100, batch_size=16, seed=1, null_video=0.2, null_text=0.5,
            objective=ObjectiveConfig(kind="meanflow", mu=-0.4, sigma=1.0, equal_fraction=0.5,
                                      probe_weight=PROBE_WEIGHT),
            optim=OptimConfig(lr=1e-3, warmup_steps=50, decay="cosine", min_lr_ratio=0.1, ema_decay=0.995),
            log_every=10, checkpoint_every=100,
        )),
        # The evaluation's baseline: the same network trained on with flow matching only, for
        # the MeanFlow stage's compute (1100 steps x MEANFLOW_STEP_COST) on its schedule.
        Stage("fm-baseline", TrainConfig(
            steps=1400, batch_size=16, seed=2, null_video=0.2, null_text=0.5,
            objective=ObjectiveConfig(kind="fm", mu=0.0, sigma=1.0, probe_weight=PROBE_WEIGHT),
            optim=OptimConfig(lr=1e-3, warmup_steps=50, decay="cosine", min_lr_ratio=0.1, ema_decay=0.995),
            log_every=10, checkpoint_every=100,
        ), init_from="fm", optional=True),
        # Training on from a finished model (the embedded one, or `--init FILE`): more MeanFlow
        # steps whenever there is time, e.g. a GPU session or a background CPU run. Its own
        # condition balance: 28% of the rows are text-only (video dropped, caption kept), 3x the
        # main stages' 10%. Its times are shifted toward noise (mu = NOISE_SHIFTED_MU), where the
        # conditions decide the sound: see the constant.
        # No probes: fresh ones would send random gradients into the trained encoders.
        Stage("continue", TrainConfig(
            steps=2000, batch_size=16, seed=3, null_video=0.4, null_text=0.3,
            objective=ObjectiveConfig(kind="meanflow", mu=NOISE_SHIFTED_MU, sigma=1.0, equal_fraction=0.5),
            optim=OptimConfig(lr=3e-4, warmup_steps=20, decay="cosine", min_lr_ratio=0.1, ema_decay=0.99),
            log_every=10, checkpoint_every=50,
        ), init_from=EMBEDDED_SOURCE, optional=True, prompts=USER_PROMPTS),
        # Guidance as an input of the network (issue 18, item 1): from a finished model, the
        # network rebuilt with a guidance-scale embedding (zero at the start, so it starts out
        # as the model it came from) and trained with CFG folded into the MeanFlow target at a
        # scale drawn per row in omega_range, which the network is told; one model then serves
        # every scale in the range with one evaluation per step. The continue stage's balance.
        Stage("guidance-input", TrainConfig(
            steps=2000, batch_size=16, seed=4, null_video=0.4, null_text=0.3,
            objective=ObjectiveConfig(kind="meanflow", mu=NOISE_SHIFTED_MU, sigma=1.0, equal_fraction=0.5,
                                      omega_range=(1.0, 3.0)),
            optim=OptimConfig(lr=3e-4, warmup_steps=20, decay="cosine", min_lr_ratio=0.1, ema_decay=0.99),
            log_every=10, checkpoint_every=50,
        ), init_from=EMBEDDED_SOURCE, optional=True, network=(("guidance_input", True),), prompts=USER_PROMPTS),
    ),
    description="the embedded default model: small encoders + MM-DiT on the procedural world",
)

RECIPES: dict[str, Recipe] = {TINY_SYNTH.name: TINY_SYNTH}


# A MeanFlow step of the recipe costs 1.25 flow-matching steps (2-core CPU, batch 16: 9.3 vs
# 12.2 samples/s): its JVP runs only on the half of the rows with r != t.
MEANFLOW_STEP_COST = 1.25

PROBES_FILE = "probes.safetensors"  # the alignment probes at the end of a stage (not part of the model)


def _source_stage(recipe: Recipe, stage: Stage) -> str | None:
    """The stage whose export `stage` starts from: its `init_from`, else the main stage before it."""
    if stage.init_from:
        return stage.init_from
    earlier = [s.name for s in recipe.stages[: recipe.stages.index(stage)] if not s.optional]
    return earlier[-1] if earlier else None


def run_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    workers: int = 0,
    overrides: dict[str, list[str]] | None = None,
    progress: Callable[[dict], None] | None = None,
    minutes: float | None = None,
    stages: list[str] | None = None,
    init: str | Path | None = None,
    session_deadline: float | None = None,
) -> Path:
    """Run every stage in order; each starts from the previous stage's EMA export (and probes).

    `minutes` time-boxes the whole recipe: each stage gets a share proportional to its steps
    (a MeanFlow step counts `MEANFLOW_STEP_COST` plain ones).
    `stages` runs a subset (e.g. to train a flow-matching-only baseline with extra steps).
    `init` (a model file) is where the first chosen stage starts instead of its usual source.
    `session_deadline` (a `time.monotonic()` value) or SIGTERM ends the session: the running
    stage checkpoints and `TrainingStopped` propagates; the same call again continues exactly
    (finished stages are skipped, the interrupted one resumes from its checkpoint).
    """
    import time

    from mfmjt_core.training.loop import print_progress, train

    chosen = [s for s in recipe.stages if (s.name in stages if stages is not None else not s.optional)]
    if stages is not None and len(chosen) != len(set(stages)):
        known = ", ".join(s.name for s in recipe.stages)
        raise ValueError(f"unknown stage in {stages}; {recipe.name} has: {known}")
    weights = [s.config.steps * (MEANFLOW_STEP_COST if s.config.objective.kind == "meanflow" else 1)
               for s in chosen]
    clock = time.monotonic()
    from mfmjt_core.training.synth_task import SynthTask

    out = Path(out_dir)
    overrides = overrides or {}
    previous: Path | None = None
    for i, stage in enumerate(chosen):
        config = apply_overrides(stage.config, overrides.get(stage.name, []) + overrides.get("all", []))
        deadline = None
        if minutes is not None:
            clock += minutes * 60 * weights[i] / sum(weights)
            deadline = clock
        stage_dir = out / stage.name
        if _finished(stage_dir, config):  # a rerun after a stopped session: go on where it stopped
            previous = stage_dir / "model.safetensors"
            continue
        start_from = _start_from(recipe, stage, out, Path(init) if init is not None and i == 0 else None)
        if start_from is None:
            network = dataclasses.replace(recipe.spec.network, **dict(stage.network))
            model = AudioModel.create(dataclasses.replace(recipe.spec, network=network),
                                      generator=torch.Generator().manual_seed(config.seed))
            task = SynthTask(model, prompts=stage.prompts, picture_augment=config.picture_augment,
                             neutral_looks=config.neutral_looks)
            mean, std = task.latent_statistics()
            with torch.no_grad():
                model.net.latent_mean.copy_(mean.view(1, 1, -1))
                model.net.latent_std.copy_(std.view(1, 1, -1))
        else:
            model = rebuilt(AudioModel.load(start_from), stage.network, seed=config.seed)
            task = SynthTask(model, prompts=stage.prompts, picture_augment=config.picture_augment,
                             neutral_looks=config.neutral_looks)
            probes = start_from.parent / PROBES_FILE
            if probes.exists():  # fresh probes would send random gradients into trained encoders
                task.auxiliary.load_state_dict(load_file(probes))
        guidance_range = config.objective.omega_range
        # The start's encoders, as they were built (a file may differ from the recipe, e.g. in
        # its feature gain); the recipe gives the rest.
        spec = dataclasses.replace(recipe.spec, network=model.net.config, encoders=model.spec.encoders,
                                   objective=config.objective.kind, training={
            **_earlier_training(model.spec, start_from),
            "recipe": recipe.name, "stage": stage.name, "steps": config.steps, "seed": config.seed,
            **({"guidance_input_range": list(guidance_range)} if guidance_range else {}),
            **({"prompt_mix": dataclasses.asdict(stage.prompts)} if stage.prompts != TEMPLATES_ONLY else {}),
            **({"picture_augment": config.picture_augment} if config.picture_augment else {}),
            **({"neutral_looks": config.neutral_looks} if config.neutral_looks else {}),
        })
        model.spec = spec
        previous = train(task, config, stage_dir, device=device, workers=workers,
                         progress=progress or print_progress, deadline=deadline, session_deadline=session_deadline)
        _record_steps_done(previous, stage_dir, config.steps)
        save_file({k: v.detach().cpu().contiguous() for k, v in task.auxiliary.state_dict().items()},
                  stage_dir / PROBES_FILE)
    assert previous is not None
    return previous


def _record_steps_done(export: Path, stage_dir: Path, planned: int) -> None:
    """A stage ended by the time box (`--minutes`) exports before its planned steps: its file
    records the steps it made (`steps_done`) next to the planned `steps`."""
    log = stage_dir / "log.jsonl"
    if not log.exists():
        return
    last = json.loads(log.read_text().strip().splitlines()[-1])
    if last.get("stopped") == "deadline" and last["step"] < planned:
        rewrite_config(export, lambda c: {**c, "training": {**c["training"], "steps_done": last["step"]}})


def rebuilt(model: AudioModel, changes: tuple[tuple[str, object], ...], *, seed: int = 0) -> AudioModel:
    """`model` with its network rebuilt under `changes` (itself when they change nothing): every
    old weight loads; the parts the old network lacked (`w_embed.` for guidance_input) keep their
    initialisation, whose last layer is zero, so the rebuilt model computes what the old one did."""
    from mfmjt_core.network import MMDiT

    config = dataclasses.replace(model.net.config, **dict(changes))
    if config == model.net.config:
        return model
    net = MMDiT(config, generator=torch.Generator().manual_seed(seed))
    old = model.net.state_dict()
    missing, unexpected = net.load_state_dict(old, strict=False)
    if unexpected or any(k in old for k in missing):
        raise ValueError(f"network changes {dict(changes)} do not keep the old weights: "
                         f"unexpected {unexpected}, missing {missing}")
    return AudioModel(dataclasses.replace(model.spec, network=config), model.encoders, net.eval(), model.codec)


def _start_from(recipe: Recipe, stage: Stage, out: Path, init: Path | None) -> Path | None:
    """The model file `stage` starts from (None: from scratch)."""
    if init is not None:
        if not init.exists():
            raise FileNotFoundError(f"--init {init}: no such model file")
        return init
    source = _source_stage(recipe, stage)
    if source is None:
        return None
    if source == EMBEDDED_SOURCE:
        from mfmjt_core.pipeline.generator import EMBEDDED_MODEL

        return EMBEDDED_MODEL
    start_from = out / source / "model.safetensors"
    if not start_from.exists():
        raise FileNotFoundError(f"stage {stage.name} starts from {start_from}: run stage {source} first")
    return start_from


def _finished(stage_dir: Path, config: TrainConfig) -> bool:
    state = stage_dir / "train_state.pt"
    if not (stage_dir / "model.safetensors").exists() or not state.exists():
        return False
    return int(torch.load(state, map_location="cpu", weights_only=True)["step"]) >= config.steps


def _earlier_training(spec: ModelSpec, start_from: Path | None) -> dict:
    """What the starting model had been trained with, kept in the new model's spec as `from`."""
    if start_from is None or not spec.training:
        return {}
    return {"from": {"file": start_from.name, **spec.training}}
