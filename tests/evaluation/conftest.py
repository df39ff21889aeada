"""Fixtures of the evaluation tests: a few test clips of the world, written once per session."""

from __future__ import annotations

import dataclasses

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


@pytest.fixture(scope="session")
def cli_one_thread():
    """`mfmjt ARGV...` in-process on one torch thread (module fixtures run before `_one_thread`)."""
    from mfmjt_cli.entry import main

    def run(argv: list[str]) -> int:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return main(argv)
        finally:
            torch.set_num_threads(before)

    return run


@pytest.fixture(scope="session")
def test_clips():
    """Reference audio and ground truth of the first 8 test-split clips (no frames)."""
    from mfmjt_core.synth import make_clip, split_seeds

    return [make_clip(s, with_frames=False) for s in split_seeds("test", 8)]


@pytest.fixture(scope="session")
def tiny_fm_model(tmp_path_factory):
    """A small random flow-matching model file (the tiny-random architecture, objective "fm")."""
    from mfmjt_core.model import AudioModel, tiny_random_spec

    spec = dataclasses.replace(tiny_random_spec(), name="tiny-fm", objective="fm")
    g = torch.Generator().manual_seed(1)
    model = AudioModel.create(spec, generator=g)
    with torch.no_grad():  # wake the zero-initialised modulations, as tiny-random does
        for p in model.net.parameters():
            if p.requires_grad and not p.any():
                p.normal_(0.0, 0.05, generator=g)
    return model.save(tmp_path_factory.mktemp("models") / "tiny-fm.safetensors")
