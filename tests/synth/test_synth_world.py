"""The world's API: determinism per seed, splits, frame rates, shapes, config checks."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest

from mfmjt_core.errors import MfmjtError
from mfmjt_core.synth import (
    EVENT_KINDS,
    FPS_CHOICES,
    MATERIALS,
    WorldConfig,
    clip_fps,
    iter_clips,
    make_clip,
    make_clips,
    split_seeds,
)
from mfmjt_core.synth.sound import frame_sample


def test_same_seed_gives_bit_identical_clip():
    a, b = make_clip(12), make_clip(12)
    assert np.array_equal(a.frames, b.frames)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.caption == b.caption and a.events == b.events and a.objects == b.objects
    assert a.fps == b.fps


def test_generation_ignores_global_rng_state():
    np.random.seed(0)
    a = make_clip(5)
    np.random.seed(1)
    np.random.random(100)
    b = make_clip(5)
    assert a.audio.tobytes() == b.audio.tobytes() and np.array_equal(a.frames, b.frames)


def test_different_seeds_give_different_clips():
    clips = [make_clip(s) for s in range(6)]
    audios = {c.audio.tobytes() for c in clips}
    frames = {c.frames.tobytes() for c in clips}
    assert len(audios) == 6 and len(frames) == 6


def test_shapes_types_and_lengths():
    for fps in FPS_CHOICES:
        clip = make_clip(3, config=WorldConfig(fps=fps))
        assert clip.fps == fps
        assert clip.frames.dtype == np.uint8 and clip.frames.shape[1:] == (96, 96, 3)
        # frame k is shown at k / fps < 8 s
        assert clip.frames.shape[0] == int(np.ceil(8 * fps)) == clip.n_frames
        assert clip.audio.dtype == np.float32 and clip.audio.shape == (128_000,)
        assert clip.sample_rate == 16_000
        assert np.all(np.abs(clip.audio) <= 1.0)
        n_bodies = sum(o.kind in ("ball", "cube") for o in clip.objects)
        assert clip.positions.shape == (n_bodies, clip.n_frames, 2)
    assert make_clip(3, config=WorldConfig(fps=Fraction(30000, 1001))).n_frames == 240
    assert make_clip(3, config=WorldConfig(fps=Fraction(25))).n_frames == 200


def test_other_sizes_and_durations():
    clip = make_clip(8, config=WorldConfig(height=128, width=128, duration_s=2.5))
    assert clip.frames.shape[1:] == (128, 128, 3)
    assert clip.audio.shape == (40_000,)
    assert all(e.time_s < 2.5 for e in clip.events)


def test_frame_rates_vary_across_seeds():
    seen = {clip_fps(s) for s in range(40)}
    assert seen == set(FPS_CHOICES)
    assert all(make_clip(s, with_frames=False).fps == clip_fps(s) for s in range(4))


def test_frame_sample_is_the_rounded_frame_time():
    ntsc = Fraction(30000, 1001)
    assert frame_sample(1, ntsc, 16_000) == 534  # 16000 * 1001 / 30000 = 533.87
    assert frame_sample(3, Fraction(24), 16_000) == 2000
    assert frame_sample(239, ntsc, 16_000) == round(239 * 16_000 * 1001 / 30000)


def test_splits_are_disjoint_and_stable():
    train, val, test = (set(split_seeds(s, 1000)) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert split_seeds("val", 3) == [10_000_000, 10_000_001, 10_000_002]
    assert split_seeds("test", 2, start=5) == [20_000_005, 20_000_006]
    with pytest.raises(MfmjtError):
        split_seeds("dev", 3)
    with pytest.raises(MfmjtError):
        split_seeds("train", 10_000_001)


def test_iter_clips_follows_split_seeds():
    clips = list(iter_clips("test", 2, with_frames=False))
    assert [c.seed for c in clips] == split_seeds("test", 2)
    assert clips[0].frames is None
    assert clips[1].audio.tobytes() == make_clip(20_000_001).audio.tobytes()


def test_make_clips_in_processes_equals_sequential():
    seeds = [1, 2, 3]
    parallel = make_clips(seeds, workers=2)
    for seed, clip in zip(seeds, parallel):
        ref = make_clip(seed)
        assert np.array_equal(clip.frames, ref.frames) and np.array_equal(clip.audio, ref.audio)


def test_config_is_checked():
    with pytest.raises(MfmjtError):
        WorldConfig(materials=("cheese",))
    with pytest.raises(MfmjtError):
        WorldConfig(duration_s=0)
    with pytest.raises(MfmjtError):
        make_clip(-1)


@pytest.mark.parametrize("rate", [29.97, 0, Fraction(-24), "30"])
def test_frame_rate_must_be_a_positive_exact_rate(rate):
    # A float rate used to pass here and overflow the sample arithmetic inside synthesis.
    with pytest.raises(MfmjtError, match="frame rates"):
        WorldConfig(fps=rate)
    with pytest.raises(MfmjtError, match="frame rates"):
        WorldConfig(fps_choices=(Fraction(24), rate))


def test_exact_ntsc_rate_makes_a_clip():
    clip = make_clip(3, config=WorldConfig(fps=Fraction(30000, 1001), duration_s=2), with_frames=False)
    assert clip.fps == Fraction(30000, 1001) and clip.events


def test_world_covers_all_kinds_and_materials():
    kinds, materials, silent = set(), set(), 0
    for seed in range(60):
        clip = make_clip(seed, with_frames=False)
        kinds |= {e.kind for e in clip.events}
        materials |= {e.material for e in clip.events if e.kind == "impact"}
        silent += not clip.events
    assert kinds == set(EVENT_KINDS)
    assert materials == set(MATERIALS)
    assert 0 < silent < 20  # some clips are silent, most are not


def test_generation_is_fast_enough():
    """Not a benchmark: a generous bound that catches an accidental per-pixel Python loop."""
    start = time.perf_counter()
    for seed in range(5):
        make_clip(100 + seed)
    assert (time.perf_counter() - start) / 5 < 1.0
