"""Neutral looks: the same clip with its balls and cubes in one look that is no material's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mfmjt_core.synth import MATERIALS
from mfmjt_core.synth.materials import material
from mfmjt_core.synth.render import NEUTRAL_BODY_RGB, body_sprite
from mfmjt_core.synth.world import make_clip, neutral_frames, split_seeds


def _clip_with_bodies():
    for seed in split_seeds("val", 40):
        clip = make_clip(seed)
        if any(o.kind in ("ball", "cube") and o.material for o in clip.objects):
            return clip
    raise AssertionError("no clip with a ball or cube")


@pytest.mark.parametrize("kind", ["ball", "cube"])
def test_every_material_looks_the_same_and_unlike_any_material(kind):
    info = dataclasses.replace(_clip_with_bodies().objects[0], kind=kind, size_px=14)
    sprites = [body_sprite(dataclasses.replace(info, material=m), neutral=True) for m in MATERIALS]
    for rgb, alpha in sprites[1:]:
        assert np.array_equal(rgb, sprites[0][0]) and np.array_equal(alpha, sprites[0][1])
    centre = sprites[0][0][7, 7]
    for m in MATERIALS:
        assert np.abs(centre - np.array(material(m).colour)).max() > 30, m
    assert np.allclose(centre, NEUTRAL_BODY_RGB)
    assert sprites[0][1][7, 7] == 1.0  # opaque, even where glass would be see-through


def test_only_the_bodies_change_and_the_motion_stays():
    clip = _clip_with_bodies()
    neutral = neutral_frames(clip)
    assert neutral.shape == clip.frames.shape and neutral.dtype == np.uint8
    changed = np.any(neutral != clip.frames, axis=-1)  # (T, H, W)
    inside = np.zeros_like(changed)
    bodies = [o for o in clip.objects if o.kind in ("ball", "cube")]
    for i, info in enumerate(bodies):
        half = info.size_px / 2 + 1
        for t in np.flatnonzero(clip.visible[i]):
            x, y = clip.positions[i, t]
            inside[t, max(0, int(y - half)):int(y + half) + 1, max(0, int(x - half)):int(x + half) + 1] = True
    assert changed.any() and not (changed & ~inside).any()
    assert np.array_equal(neutral_frames(clip), neutral)  # drawn again, the same
