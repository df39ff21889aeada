"""Fixtures of the scale tests: a folder of synthetic-world clips with a broken and a short file,
and one of our model files whose small encoders and mel codec the extraction uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.scale.helpers import DURATION, extract_config


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


@pytest.fixture(scope="session")
def media_folder(tmp_path_factory) -> dict[str, Path]:
    from mfmjt_core.media import write_audio
    from mfmjt_core.model import AudioModel, tiny_random_spec
    from mfmjt_core.synth import WorldConfig, make_clip, write_clip

    base = tmp_path_factory.mktemp("scale_media")
    model = base / "tiny.safetensors"
    AudioModel.create(tiny_random_spec(), generator=torch.Generator().manual_seed(0)).save(model)
    clips = base / "clips"
    world = WorldConfig(duration_s=DURATION, height=64, width=64)
    for seed in (1, 2, 3):
        write_clip(make_clip(seed, config=world), clips / f"clip{seed}.mp4")
    short = make_clip(4, config=WorldConfig(duration_s=1.0, height=64, width=64))
    write_clip(short, clips / "short.mp4")
    (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    sound = make_clip(5, config=world, with_frames=False)
    write_audio(clips / "sound.flac", sound.audio[None], sound.sample_rate)
    (clips / "sound.txt").write_text(sound.caption)
    return {"clips": clips, "model": model}


@pytest.fixture(scope="session")
def extracted(media_folder, tmp_path_factory):
    """A one-process extraction of `media_folder` (one decoding worker): (folder, summary, lines)."""
    from mfmjt_core.training.extract import extract

    out = tmp_path_factory.mktemp("features") / "one"
    lines: list[str] = []
    summary = extract(extract_config(media_folder, out, workers=1), progress=lines.append, rank=0, world=1)
    return out, summary, lines
