"""Picture jitter (`TrainConfig.picture_augment`): it changes how a world clip looks, never when
things happen in it or whether its objects stay in view, and each row draws it reproducibly."""

from __future__ import annotations

import pytest
import torch

from mfmjt_core.synth.world import WorldConfig, make_clip, split_seeds
from mfmjt_core.training.picture_augment import PictureJitter, apply_jitter, draw_jitter
from mfmjt_core.training.synth_task import _resize
from mfmjt_core.training.train_config import TrainConfig


@pytest.fixture(scope="module")
def clip_frames() -> torch.Tensor:
    """A world clip's frames at the small encoders' 32 px, as training sees them."""
    (seed,) = split_seeds("train", 1, start=5)
    return _resize(make_clip(seed, config=WorldConfig(duration_s=2.0)).frames, 32)


def _motion(frames: torch.Tensor) -> torch.Tensor:
    """How much the picture changes from each frame to the next."""
    return (frames[1:] - frames[:-1]).abs().sum(dim=(1, 2, 3))


def test_strength_zero_changes_nothing_and_draws_nothing(clip_frames):
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    jitter = draw_jitter(0.0, g)
    assert jitter == PictureJitter()
    assert torch.equal(g.get_state(), state)
    assert apply_jitter(clip_frames, jitter) is clip_frames


def test_the_same_generator_draws_the_same_look():
    a = draw_jitter(1.0, torch.Generator().manual_seed(3))
    assert a == draw_jitter(1.0, torch.Generator().manual_seed(3))
    assert a != draw_jitter(1.0, torch.Generator().manual_seed(4))


@pytest.mark.parametrize("seed", range(12))
def test_events_keep_their_time_and_the_look_changes(clip_frames, seed):
    jitter = draw_jitter(1.0, torch.Generator().manual_seed(seed))
    out = apply_jitter(clip_frames, jitter)
    assert out.shape == clip_frames.shape
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert (out - clip_frames).abs().mean() > 1e-3  # it does change the picture
    before, after = _motion(clip_frames), _motion(out)
    # the same frames move: one transform for every frame of the clip
    assert torch.corrcoef(torch.stack([before, after]))[0, 1] > 0.8
    assert torch.equal(after == 0, before == 0)


@pytest.mark.parametrize("seed", range(6))
def test_sizes_and_colours_the_world_ties_to_sound_stay(clip_frames, seed):
    """A machine's size sets its hum's pitch, a lamp's colour its beep's, an object's colour its
    material. So, mirror aside, every pixel stays where it was and its value moves along one
    line a x + b, the same for every pixel and channel of the clip: no hue or saturation of its
    own, and no object changes size (a zoom or a desaturation fails this)."""
    jitter = draw_jitter(1.0, torch.Generator().manual_seed(seed))
    out = apply_jitter(clip_frames, jitter)
    seen = (clip_frames.flip(2) if jitter.flip else clip_frames).flatten().double()
    got = out.flatten().double()
    inside = (got > 0.0) & (got < 1.0)  # not clamped
    a, b = torch.linalg.lstsq(torch.stack([seen[inside], torch.ones_like(seen[inside])], 1),
                              got[inside, None]).solution.flatten()
    assert torch.allclose(a * seen[inside] + b, got[inside], atol=1e-5)
    assert a == pytest.approx(jitter.contrast * jitter.brightness, rel=1e-4)


def test_every_draw_stays_inside_the_allowed_ranges():
    for seed in range(200):
        j = draw_jitter(1.0, torch.Generator().manual_seed(seed))
        assert 0.75 <= j.brightness <= 1.25 and 0.7 <= j.contrast <= 1.3
    half = [draw_jitter(0.5, torch.Generator().manual_seed(s)) for s in range(200)]
    assert all(0.875 <= j.brightness <= 1.125 and 0.85 <= j.contrast <= 1.15 for j in half)
    assert 70 < sum(j.flip for j in half) < 130


def test_a_mirror_image_is_exact(clip_frames):
    assert torch.equal(apply_jitter(clip_frames, PictureJitter(flip=True)), clip_frames.flip(2))


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan")])
def test_a_strength_outside_zero_to_one_is_refused(strength):
    with pytest.raises(ValueError, match="picture_augment"):
        draw_jitter(strength, torch.Generator())
    with pytest.raises(ValueError, match="picture_augment"):
        TrainConfig(picture_augment=strength)
