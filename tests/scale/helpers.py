"""Shared pieces of the scale tests (importable by torchrun workers): synthetic feature folders
with `tiny_test` widths, a seeded tiny network with every layer awake, and run configs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mfmjt_core.network import build_network
from mfmjt_core.network.mmdit import MMDiT
from mfmjt_core.training.features_store import (
    CONSTANTS,
    FORMAT,
    INDEX,
    PLAN,
    REPORT,
    build_index,
    shard_name,
    write_tensors,
)
from mfmjt_core.training.train_config import ObjectiveConfig, OptimConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[2]

DURATION = 2.0  # seconds per clip in the media tests

# tiny_test widths: latent 20, clip 32, sync 24, text 32; short sequences keep steps fast.
SHAPES = {"latent_shape": [16, 20], "clip_shape": [8, 32], "sync_shape": [16, 24], "text_shape": [77, 32],
          "duration": 1.0, "sample_rate": 16000, "samples_per_latent": 1000, "feature_dtype": "float32"}


def write_synthetic_features(folder: Path, rows: int, *, shard_size: int = 5, seed: int = 0,
                             audio_only_every: int = 4, uncaptioned_every: int = 5) -> Path:
    """A feature folder as `mfmjt extract` writes it, with random features: every
    `audio_only_every`-th row has no video, every `uncaptioned_every`-th no caption."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    n, c = SHAPES["latent_shape"]
    captions = ["a bounce", "a hum", "a scrape"]
    shards = -(-rows // shard_size)
    for k in range(shards):
        ids = range(k * shard_size, min(rows, (k + 1) * shard_size))
        video = [i % audio_only_every != audio_only_every - 1 for i in ids]
        caption = [None if i % uncaptioned_every == uncaptioned_every - 1 else captions[i % 3] for i in ids]
        used = list(dict.fromkeys(x for x in caption if x))
        v = sum(video)
        tensors = {
            "latent_mean": torch.randn(len(ids), n, c, generator=g) + torch.linspace(-1, 1, c),
            "latent_std": torch.rand(len(ids), n, c, generator=g) * 0.2,
            "video_index": torch.tensor([sum(video[:j]) if f else -1 for j, f in enumerate(video)],
                                        dtype=torch.int32),
            "clip_f": torch.randn(v, *SHAPES["clip_shape"], generator=g),
            "sync_f": torch.randn(v, *SHAPES["sync_shape"], generator=g),
            "text_index": torch.tensor([used.index(x) if x else -1 for x in caption], dtype=torch.int32),
            "text_f": torch.randn(len(used), *SHAPES["text_shape"], generator=g),
        }
        meta = [{"id": f"row{i}", "path": f"row{i}.mp4", "caption": x, "start": 0.0, "video": f}
                for i, x, f in zip(ids, caption, video)]
        write_tensors(folder / shard_name(k), tensors, {"rows": meta, "skipped": []})
    empty_text = torch.randn(*SHAPES["text_shape"], generator=g)
    write_tensors(folder / CONSTANTS, {"empty_text_f": empty_text}, SHAPES)
    plan = {"format": FORMAT, "source": "synthetic", "rows": rows, "shards": shards, "digest": "synthetic",
            "settings": {"encoders": {"kind": "mmaudio", "name": "mmaudio:mmaudio-small-16k"},
                         "codec": {"kind": "mmaudio", "name": "mmaudio:mmaudio-small-16k"}}}
    (folder / PLAN).write_text(json.dumps(plan))
    index, report = build_index(folder, plan)
    (folder / INDEX).write_text(json.dumps(index))
    (folder / REPORT).write_text(json.dumps(report))
    return folder


def tiny_network(seed: int = 0) -> MMDiT:
    """`tiny_test` with its zero-initialised layers given small random weights, so every
    parameter has a gradient worth comparing."""
    g = torch.Generator().manual_seed(seed)
    net = build_network("tiny_test", generator=g)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad and not p.any():
                p.normal_(0.0, 0.05, generator=g)
    return net


def one_step_config(batch: int = 8) -> TrainConfig:
    """MeanFlow steps (the tests run one); clipping off so the gradients are the raw averaged ones."""
    return TrainConfig(steps=2, batch_size=batch, seed=5, null_video=0.3, null_text=0.3,
                       objective=ObjectiveConfig(kind="meanflow", equal_fraction=0.25),
                       optim=OptimConfig(lr=1e-3, warmup_steps=1, grad_clip=1e9), log_every=1,
                       checkpoint_every=100)


def resume_config() -> TrainConfig:
    return TrainConfig(steps=4, batch_size=4, seed=7, null_video=0.2, null_text=0.2,
                       objective=ObjectiveConfig(kind="meanflow", equal_fraction=0.5),
                       optim=OptimConfig(lr=1e-3, warmup_steps=2), log_every=1, checkpoint_every=2)


def losses(run: Path) -> dict[int, float]:
    """step -> loss of a run's log (a repeated step after a kill keeps its last record)."""
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record:
            out[record["step"]] = record["loss"]
    return out


def torchrun(nproc: int, *args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `torchrun --standalone` (a free loopback port) in its own process group, so a hang
    is killed with all its workers; `env` replaces this process's environment."""
    env = {k: v for k, v in (env or os.environ).items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           *args]
    return run_group(cmd, env, timeout)


def run_group(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"timed out after {timeout} s: {' '.join(cmd)}\n{out[-2000:]}\n{err[-4000:]}")
    assert process.returncode == 0, out[-3000:] + err[-6000:]
    return subprocess.CompletedProcess(cmd, process.returncode, out, err)


def same_shard(a, b) -> bool:
    """Equal tensors and metadata (the header's key order is not fixed, so bytes may differ)."""
    from mfmjt_core.training.features_store import read_metadata, read_tensors

    x, y = read_tensors(a), read_tensors(b)
    return (read_metadata(a) == read_metadata(b) and x.keys() == y.keys()
            and all(torch.equal(x[k], y[k]) for k in x))


def extract_config(media: dict, out: Path, **kw):
    """An extraction of the `media_folder` fixture's clips with its model's encoders."""
    from mfmjt_core.training.extract import ExtractConfig

    return ExtractConfig(source=str(media["clips"]), out=str(out), encoders=str(media["model"]),
                         duration=DURATION, shard_size=2, batch_size=2, **kw)
