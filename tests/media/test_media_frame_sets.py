"""One decoding pass for several frame rates and geometries, and the scaling filter choice."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mfmjt_core.media import decode_frames, write_video
from mfmjt_core.media.video import FrameSpec, decode_frame_sets

SPECS = [
    FrameSpec(Fraction(8)),
    FrameSpec(Fraction(25)),
    FrameSpec(Fraction(25), size=(40, 64), interpolation="AREA"),
    FrameSpec(Fraction(8), size=(40, 64), interpolation="AREA"),  # shares the conversions above
    FrameSpec(Fraction(8), short_side=48, center_crop=48),
]


def _alone(path, start, end, spec: FrameSpec):
    return decode_frames(path, start, end, spec.fps, size=spec.size, short_side=spec.short_side,
                         center_crop=spec.center_crop, interpolation=spec.interpolation)


def _assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert (a.fps, a.repeated) == (b.fps, b.repeated)


@pytest.mark.parametrize("rate", [Fraction(25), Fraction(30000, 1001), Fraction(60)], ids=str)
@pytest.mark.parametrize(("start", "end"), [(0.0, 2.0), (0.73, 2.61), (1.9, 3.6)])
def test_one_pass_gives_what_each_rate_gives_alone(make_clip, codes, rate, start, end):
    path = make_clip(rate, 3.0)
    batches = decode_frame_sets(path, start, end, SPECS)
    assert len(batches) == len(SPECS)
    for spec, batch in zip(SPECS, batches):
        _assert_same(batch, _alone(path, start, end, spec))
    # full-size frames still carry the index of the frame on screen at each target
    for batch in batches[:2]:
        want = codes.expected([Fraction(t) for t in batch.targets], rate, int(3 * rate))
        np.testing.assert_array_equal(codes.read(batch.frames), want)
    if end > 3.0:  # past the end: both rates repeat the last frame, counted per rate
        past_end = len(batches[0]) - np.searchsorted(batches[0].targets, 3.0 - 1e-6)
        assert batches[0].repeated == past_end
        assert batches[1].repeated > batches[0].repeated > 0


def test_one_pass_follows_variable_frame_rate_timestamps(tmp_path, codes):
    rng = np.random.default_rng(7)
    steps = rng.choice([1 / 60, 1 / 24, 1 / 10, 0.3], size=40)
    pts = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    path = write_video(tmp_path / "vfr.mp4", codes.make(40), Fraction(30), pts_seconds=pts, gop=8)
    end = float(pts[-1]) + 1 / 30
    specs = [FrameSpec(Fraction(8)), FrameSpec(Fraction(25))]
    eight, twenty_five = decode_frame_sets(path, 0.37, end, specs)
    for batch in (eight, twenty_five):
        want = [int(np.searchsorted(pts, float(t) + 1e-6, side="right") - 1) for t in batch.targets]
        np.testing.assert_array_equal(codes.read(batch.frames), want)
        np.testing.assert_allclose(batch.timestamps, pts[want], atol=1e-4)


def test_area_downscale_averages_blocks_and_bicubic_does_not(tmp_path):
    # 4x4 blocks of mild, random colours: scaling by 1/4 with an area filter gives each block's
    # mean (measured on the decoded full-size frames, so codec loss cancels out).
    rng = np.random.default_rng(3)
    grey = rng.integers(40, 216, (6, 20, 32, 1))
    blocks = np.clip(grey + rng.integers(-12, 13, (6, 20, 32, 3)), 0, 255).astype(np.uint8)
    frames = blocks.repeat(4, axis=1).repeat(4, axis=2)
    path = write_video(tmp_path / "blocks.mp4", frames, Fraction(25))
    full = decode_frames(path, 0, 0.2, Fraction(25)).frames.astype(np.float64)
    block_means = full.reshape(-1, 20, 4, 32, 4, 3).mean(axis=(2, 4))

    def error(interpolation: str) -> float:
        small = decode_frames(path, 0, 0.2, Fraction(25), size=(20, 32),
                              interpolation=interpolation)
        return float(np.abs(small.frames.astype(np.float64) - block_means).mean())

    assert error("AREA") < 3.0  # rounding and chroma siting only (measured 1.4 levels)
    assert error("BICUBIC") > 8.0  # the filter reaches into neighbouring blocks (measured 12.7)
    default = decode_frames(path, 0, 0.2, Fraction(25), size=(20, 32)).frames
    bicubic = decode_frames(path, 0, 0.2, Fraction(25), size=(20, 32),
                            interpolation="BICUBIC").frames
    np.testing.assert_array_equal(default, bicubic)  # the default filter is unchanged


def test_bad_specs_are_refused(make_clip):
    path = make_clip(Fraction(25), 2.0)
    with pytest.raises(ValueError):
        decode_frames(path, 0, 1, Fraction(8), size=(8, 8), interpolation="NEAREST-ISH")
    with pytest.raises(ValueError):
        FrameSpec(Fraction(8), size=(8, 8), short_side=8)
    with pytest.raises(ValueError):
        decode_frame_sets(path, 0, 1, [])
