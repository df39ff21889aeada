"""scripts/outside_clips.py: impacts read from a simulated height curve, and their sound.

The rendering itself runs in Blender (`tests/blender/test_blender_outside_clips.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.script_loading import load_script


@pytest.fixture(scope="module")
def oc():
    return load_script("outside_clips")


def _bouncing(radius: float, drop: float, restitution: float, rate: float, seconds: float):
    """Exact heights of a ball dropped at t = 0 (sampled at the frame instants) and its contacts."""
    g, t, z, v, contacts = 9.81, 0.0, radius + drop, 0.0, []
    dt = 1e-5
    heights, next_frame = [], 0.0
    while t < seconds:
        if t >= next_frame:
            heights.append(z)
            next_frame += 1 / rate
        v -= g * dt
        z += v * dt
        if z <= radius and v < 0:
            contacts.append((t, -v))
            z, v = radius, -v * restitution
        t += dt
    return heights, contacts


def test_impacts_are_found_between_frames(oc):
    for rate in (24.0, 30000 / 1001):
        heights, truth = _bouncing(0.2, 1.5, 0.7, rate, 4.0)
        found = oc._impacts(heights, 0.2, rate)
        for t, v in found:  # each one is a real contact, timed to a few ms
            tt, vv = min(truth, key=lambda c: abs(c[0] - t))
            assert abs(t - tt) < 0.004 and abs(v - vv) / vv < 0.05, (t, tt, v, vv)
        # every contact with a flight of several frames after it is found (faster ones first)
        assert len(found) >= sum(v >= 1.5 for _, v in truth) >= 4


def test_a_ball_at_rest_has_no_impacts_and_a_held_one_falls_once(oc):
    assert oc._impacts([0.2] * 60, 0.2, 25.0) == []
    heights, truth = _bouncing(0.2, 1.0, 0.0, 25.0, 2.0)  # dead drop, no bounce
    held = [heights[0]] * 20 + heights
    ((t, _),) = oc._impacts(held, 0.2, 25.0)
    assert abs(t - (truth[0][0] + 20 / 25)) < 0.004


def test_each_impact_is_heard_at_its_time_and_louder_when_faster(oc):
    impacts = [{"time_s": 0.5, "speed": 5.0}, {"time_s": 1.7, "speed": 1.0}]
    audio = oc.impact_sound(impacts, 3.0, seed=1)
    rate = oc.SAMPLE_RATE
    assert audio.shape == (3 * rate,) and np.abs(audio).max() <= 0.95
    onset = np.flatnonzero(np.abs(audio) > 1e-3)[0] / rate
    assert abs(onset - 0.5) < 0.002
    first, second = (np.abs(audio[round(t * rate): round(t * rate) + rate // 10]).max() for t in (0.5, 1.7))
    assert first > 2 * second > 0
    assert np.abs(audio[round(0.45 * rate): round(0.5 * rate) - 1]).max() == 0
