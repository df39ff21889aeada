"""The `guidance-input` stage: a finished model rebuilt with guidance as an input of its network
and trained on with a folded-CFG scale per row, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mfmjt_core.model import AudioModel
from mfmjt_core.training.recipes import TINY_SYNTH, rebuilt, tiny_synth_spec

ROOT = Path(__file__).resolve().parents[2]


def test_rebuilding_with_guidance_input_keeps_every_weight_and_the_output():
    old = AudioModel.create(tiny_synth_spec(), generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in old.net.parameters():
            if p.requires_grad:
                p.normal_(0.0, 0.05, generator=g)
    new = rebuilt(old, (("guidance_input", True),))
    assert new.net.config.guidance_input and new.spec.network.guidance_input
    assert rebuilt(new, (("guidance_input", True),)) is new  # nothing to change
    c = new.net.config
    seq = c.sequence.with_duration(2.0)
    z = torch.randn(2, seq.latent_seq_len, c.latent_dim, generator=g)
    cond = {"clip_f": torch.randn(2, seq.clip_seq_len, c.clip_dim, generator=g),
            "sync_f": torch.randn(2, 8 * 8, c.sync_dim, generator=g),
            "text_f": torch.randn(2, 77, c.text_dim, generator=g)}
    t = torch.rand(2, generator=g)
    with torch.no_grad():
        before = old.net(z, t, **cond)
        torch.testing.assert_close(new.net(z, t, **cond, w=torch.tensor([1.0, 3.0])), before, rtol=0, atol=0)
    stage = next(s for s in TINY_SYNTH.stages if s.name == "guidance-input")
    assert stage.optional and stage.config.objective.omega_range == (1.0, 3.0)


@pytest.mark.timeout(600)
def test_mfmjt_train_guidance_input_exports_a_model_that_serves_several_scales(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "mfmjt_cli", "train", "tiny-synth", "--threads", "1", "--stages", "guidance-input",
         "--init", "embedded", "--out", str(out), "--set", "steps=3", "--set", "batch_size=2",
         "--set", "log_every=1", "--set", "checkpoint_every=100", "--set", "optim.warmup_steps=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr
    from mfmjt_core.model.file import read_model
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL, Generator

    path = out / "guidance-input" / "model.safetensors"
    tensors, config = read_model(path)
    assert config["network"]["guidance_input"] is True
    assert config["training"]["guidance_input_range"] == [1.0, 3.0]
    assert config["training"]["from"]["file"] == EMBEDDED_MODEL.name
    # w_embed started at zero and has moved; everything else started from the embedded model
    assert float(tensors["net.w_embed.mlp.2.weight"].abs().max()) > 0

    generator = Generator.load(path)
    assert generator.model.net.config.guidance_input
    one, three, again = (generator.generate(prompt="a ball bounces on wood", duration=2.0, seed=1, guidance=w).audio
                         for w in (1.0, 3.0, 3.0))
    assert all(np.isfinite(a).all() for a in (one, three))
    assert np.array_equal(three, again)
    assert not np.array_equal(one, three)
