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


@pytest.mark.parametrize("corner", [(-1, -1), (-1, 1), (1, -1), (1, 1)])
def test_zooming_out_keeps_objects_at_the_edge_in_view(corner):
    """The farthest zoom and shift the strongest draw allows still shows an object in the corner
    (zooming in would crop it off and teach sounds without a visible cause)."""
    frames = torch.zeros(2, 32, 32, 3)
    rows = slice(0, 3) if corner[0] < 0 else slice(29, 32)
    cols = slice(0, 3) if corner[1] < 0 else slice(29, 32)
    frames[:, rows, cols] = 1.0
    room = 1.0 - 0.7
    for shift in [(-room, -room), (-room, room), (room, -room), (room, room)]:
        out = apply_jitter(frames, PictureJitter(scale=0.7, shift=shift))
        assert out.max() > 0.5, shift
        assert out.sum() > 0.3 * frames.sum(), shift  # area shrinks with the scale squared (0.49)


def test_every_draw_stays_inside_the_allowed_ranges():
    for seed in range(200):
        j = draw_jitter(1.0, torch.Generator().manual_seed(seed))
        assert 0.7 <= j.scale <= 1.0
        assert abs(j.shift[0]) <= 1.0 - j.scale + 1e-12 and abs(j.shift[1]) <= 1.0 - j.scale + 1e-12
        assert 0.75 <= j.brightness <= 1.25 and 0.7 <= j.contrast <= 1.3 and 0.3 <= j.saturation <= 1.21
    half = [draw_jitter(0.5, torch.Generator().manual_seed(s)) for s in range(200)]
    assert min(j.scale for j in half) >= 0.85 and min(j.saturation for j in half) >= 0.65


def test_a_mirror_image_is_exact(clip_frames):
    assert torch.equal(apply_jitter(clip_frames, PictureJitter(flip=True)), clip_frames.flip(2))


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan")])
def test_a_strength_outside_zero_to_one_is_refused(strength):
    with pytest.raises(ValueError, match="picture_augment"):
        draw_jitter(strength, torch.Generator())
    with pytest.raises(ValueError, match="picture_augment"):
        TrainConfig(picture_augment=strength)
