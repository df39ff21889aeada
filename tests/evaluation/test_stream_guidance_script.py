"""scripts/stream_guidance.py: guidance per video stream, three branches per step."""

from __future__ import annotations

import torch

from mfmjt_core.flows.guidance import Guidance, guided
from tests.script_loading import load_script


def _model(z, r, t, *, clip_f, sync_f, text_f):
    # a velocity that reads each stream differently, so every branch differs
    return z * 0.5 + clip_f.mean((1, 2)).view(-1, 1, 1) + 2 * sync_f.mean((1, 2)).view(-1, 1, 1) + text_f.sum()


def _inputs():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 6, 4, generator=g)
    cond = {"clip_f": torch.randn(2, 3, 5, generator=g), "sync_f": torch.randn(2, 7, 5, generator=g),
            "text_f": torch.zeros(2, 2, 5)}
    empty = {"clip_f": torch.full((1, 3, 5), 0.3), "sync_f": torch.full((1, 7, 5), -0.2),
             "text_f": torch.zeros(1, 2, 5)}
    t = torch.ones(2)
    return z, t, cond, Guidance(scale=9.0, mode="plain", uncond=empty)


def test_each_stream_is_guided_by_its_own_scale():
    stream_guided = load_script("stream_guidance").stream_guided
    z, t, cond, guidance = _inputs()
    v_c = _model(z, t, t, **cond)
    v_no_sync = _model(z, t, t, **{**cond, "sync_f": guidance.uncond["sync_f"].expand_as(cond["sync_f"])})
    v_no_clip = _model(z, t, t, **{**cond, "clip_f": guidance.uncond["clip_f"].expand_as(cond["clip_f"])})
    got = stream_guided(1.5, 1.25)(_model, z, t, t, cond, guidance)
    torch.testing.assert_close(got, v_c + 0.5 * (v_c - v_no_sync) + 0.25 * (v_c - v_no_clip))
    # both at 1: the conditional prediction, whatever the configs' own scale (9 here)
    torch.testing.assert_close(stream_guided(1.0, 1.0)(_model, z, t, t, cond, guidance), v_c)
    # one stream at s, the other at 1: plain guidance with only that stream dropped
    only_clip = Guidance(scale=1.25, mode="plain", uncond={**cond, "clip_f": guidance.uncond["clip_f"]})
    torch.testing.assert_close(stream_guided(1.0, 1.25)(_model, z, t, t, cond, guidance),
                               guided(_model, z, t, t, cond, only_clip))


def test_unguided_runs_are_left_alone():
    stream_guided = load_script("stream_guidance").stream_guided
    z, t, cond, _ = _inputs()
    torch.testing.assert_close(stream_guided(2.0, 2.0)(_model, z, t, t, cond, None), _model(z, t, t, **cond))


def test_prompt_only_rows_keep_their_own_guidance():
    """No video stream to split: the configs' own guidance (here plain 9), not the conditional alone."""
    stream_guided = load_script("stream_guidance").stream_guided
    z, t, cond, guidance = _inputs()
    text_only = {**cond, "clip_f": guidance.uncond["clip_f"].expand_as(cond["clip_f"]),
                 "sync_f": guidance.uncond["sync_f"].expand_as(cond["sync_f"]), "text_f": torch.ones(2, 2, 5)}
    torch.testing.assert_close(stream_guided(1.25, 1.25)(_model, z, t, t, text_only, guidance),
                               guided(_model, z, t, t, text_only, guidance))
