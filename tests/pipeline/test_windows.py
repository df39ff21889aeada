"""Windows cover long ranges and join without seams."""

from __future__ import annotations

import numpy as np
import pytest

from mfmjt_core.pipeline.windows import plan_windows, stitch, window_samples


def test_plan_short_and_long():
    assert [(w.start, w.duration) for w in plan_windows(5.0, 8.0)] == [(0.0, 5.0)]
    ws = plan_windows(20.0, 8.0, overlap=1.0)
    assert ws[0].start == 0.0 and ws[-1].start + ws[-1].duration == pytest.approx(20.0)
    assert all(b.start - a.start <= 7.0 + 1e-9 for a, b in zip(ws, ws[1:]))  # overlaps >= 1 s


def test_stitched_sweep_has_no_seam():
    sr, length = 16_000, 20.0
    t = np.arange(int(length * sr)) / sr
    sweep = np.sin(2 * np.pi * (100 * t + 0.5 * (2000 - 100) / length * t**2)).astype(np.float32)
    windows = plan_windows(length, 8.0, overlap=1.0)
    pieces = []
    for w in windows:
        begin, count = window_samples(w, sr)
        pieces.append(sweep[begin:begin + count][None])
    out = stitch(pieces, windows, sr, len(sweep))[0]
    # equal-power fades: a coherent signal rises by at most sqrt(2) in the overlap, never drops
    env = np.abs(out) / np.maximum(np.abs(sweep), 1e-3)
    active = np.abs(sweep) > 0.5
    assert env[active].min() > 0.99 and env[active].max() < 1.4143
    # no click: the largest sample-to-sample step stays what the sweep itself has
    assert np.abs(np.diff(out)).max() <= 1.45 * np.abs(np.diff(sweep)).max()


def test_equal_power_for_independent_noise():
    sr = 8_000
    rng = np.random.default_rng(0)
    windows = plan_windows(20.0, 8.0, overlap=1.0)
    pieces = [rng.standard_normal((1, window_samples(w, sr)[1])).astype(np.float32) for w in windows]
    out = stitch(pieces, windows, sr, 20 * sr)[0]
    blocks = out[: len(out) // 4000 * 4000].reshape(-1, 4000)
    rms = np.sqrt((blocks**2).mean(1))
    assert rms.min() > 0.85 and rms.max() < 1.15  # loudness steady through every crossfade
