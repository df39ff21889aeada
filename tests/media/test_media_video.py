"""Frame sampling by timestamp: which source frame each target takes, at common rates and VFR."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from mfmjt_core.media import (
    FrameBatch,
    FrameSpec,
    clip_frames,
    decode_frames,
    probe,
    sync_frames,
    target_times,
    write_video,
)

RATES = [Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(60)]


@pytest.mark.parametrize("rate", RATES, ids=lambda r: f"{float(r):.3f}fps")
@pytest.mark.parametrize(("start", "end", "fps"), [(0.0, 2.0, 8), (0.73, 2.61, 25), (1.9, 2.4, 8)])
def test_each_target_takes_the_frame_on_screen(make_clip, codes, rate, start, end, fps):
    path = make_clip(rate, 3.0)
    count = int(3 * rate)
    batch = decode_frames(path, start, end, Fraction(fps))

    targets = target_times(start, end, fps)
    assert len(batch) == len(targets) == len(batch.timestamps)
    np.testing.assert_allclose(batch.targets, [float(t) for t in targets], atol=1e-12)
    want = codes.expected(targets, rate, count)
    np.testing.assert_array_equal(codes.read(batch.frames), want)
    # Timestamps are the exact presentation times of those frames.
    np.testing.assert_allclose(batch.timestamps, want / float(rate), atol=1e-9)
    assert batch.repeated == 0
    assert batch.frames.dtype == np.uint8 and batch.frames.shape[1:] == (80, 128, 3)


def test_ten_seconds_at_29_97_gives_80_clip_and_250_sync_frames(make_clip, codes):
    rate = Fraction(30000, 1001)
    path = make_clip(rate, 10.01, gop=30)  # 300 frames, last one ends at 10.01 s
    clip = clip_frames(path, 0.0, 10.0)
    sync = sync_frames(path, 0.0, 10.0)

    assert clip.frames.shape == (80, 384, 384, 3) and clip.fps == 8
    assert sync.frames.shape == (250, 224, 224, 3) and sync.fps == 25
    assert clip.repeated == 0 and sync.repeated == 0
    np.testing.assert_array_equal(codes.read(clip.frames), codes.expected(clip.targets, rate, 300))
    np.testing.assert_array_equal(codes.read(sync.frames), codes.expected(sync.targets, rate, 300))
    # Hand-checked: 1.125 s at 29.97 fps is frame 33.7 -> 33; 9.96 s is 298.5 -> 298.
    assert codes.read(clip.frames)[9] == 33
    assert codes.read(sync.frames)[249] == 298


def test_start_on_a_frame_time_takes_that_frame(make_clip, codes):
    rate = Fraction(30000, 1001)
    path = make_clip(rate, 3.0)
    start = 45 * 1001 / 30000  # frame 45's time as an editor computes it, in floats
    batch = decode_frames(path, start, start + 0.5, Fraction(8))
    assert codes.read(batch.frames)[0] == 45
    assert batch.timestamps[0] == pytest.approx(start, abs=1e-12)


def test_short_clip_repeats_the_last_frame_and_counts_it(make_clip, codes):
    path = make_clip(Fraction(25), 2.0)  # 50 frames, the last shown from 1.96 to 2.0 s
    batch = decode_frames(path, 1.0, 3.0, Fraction(8))
    assert len(batch) == 16
    assert batch.repeated == 8  # targets 2.0, 2.125, ... 2.875
    idx = codes.read(batch.frames)
    assert idx[-9] == 46  # 1.875 s * 25 = 46.9
    np.testing.assert_array_equal(idx[-8:], 49)  # 2.0 s onward: the last frame on repeat
    np.testing.assert_allclose(batch.timestamps[-8:], 1.96)

    synced = sync_frames(path, 1.9, 2.2)  # 1.9, 1.94, 1.98 inside; 2.02 ... 2.18 repeats
    assert len(synced) == 8 and synced.repeated == 5
    np.testing.assert_array_equal(codes.read(synced.frames), [47, 48, 49, 49, 49, 49, 49, 49])


def test_variable_frame_rate_samples_by_timestamp(tmp_path, codes):
    rng = np.random.default_rng(7)
    steps = rng.choice([1 / 60, 1 / 24, 1 / 10, 0.3], size=40)  # jumpy phone-like timing
    pts = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    path = write_video(tmp_path / "vfr.mp4", codes.make(40), Fraction(30), pts_seconds=pts, gop=8)

    info = probe(path)
    assert info.variable_frame_rate is True
    end = float(pts[-1]) + 1 / 30
    for fps, start in [(Fraction(25), 0.0), (Fraction(8), 0.37)]:
        batch = decode_frames(path, start, end, fps)
        want = [int(np.searchsorted(pts, float(t) + 1e-6, side="right") - 1) for t in batch.targets]
        np.testing.assert_array_equal(codes.read(batch.frames), want)
        np.testing.assert_allclose(batch.timestamps, pts[want], atol=1e-4)
        assert batch.repeated == 0


def test_constant_rate_file_is_not_reported_variable(make_clip):
    info = probe(make_clip(Fraction(30000, 1001), 3.0))
    assert info.variable_frame_rate is False
    assert info.fps == Fraction(30000, 1001)
    assert (info.width, info.height, info.has_video, info.has_audio) == (128, 80, True, False)
    assert info.duration_s == pytest.approx(3.0, abs=0.04)


def test_sync_crop_keeps_the_centre_and_clip_keeps_the_whole_frame(tmp_path):
    # 160x90: green left edge, red centre, blue right edge. Short side 90 -> 224 gives 398x224;
    # the centre crop keeps source columns ~35..125, all red.
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[:, :30] = (0, 255, 0)
    frame[:, 30:130] = (255, 0, 0)
    frame[:, 130:] = (0, 0, 255)
    path = write_video(tmp_path / "bands.mp4", np.repeat(frame[None], 10, 0), Fraction(25))

    synced = sync_frames(path, 0.0, 0.2).frames
    assert synced.shape == (5, 224, 224, 3)
    red = synced[:, :, 4:-4].astype(int)  # margin for chroma blur at the crop border
    assert (red[..., 0] > 200).all() and (red[..., 1] < 60).all() and (red[..., 2] < 60).all()

    clip = clip_frames(path, 0.0, 0.2).frames
    assert clip.shape == (2, 384, 384, 3)
    # 384/160 = 2.4 px per source column: column 20 (green) and 150 (blue) stay on the sides.
    assert clip[0, 192, 20 * 384 // 160, 1] > 200 and clip[0, 192, 150 * 384 // 160, 2] > 200


def test_size_and_short_side_are_exclusive(make_clip):
    with pytest.raises(ValueError):
        decode_frames(make_clip(Fraction(25), 2.0), 0, 1, Fraction(8), size=(8, 8), short_side=8)


def test_target_count_is_exact_for_float_ranges():
    assert len(target_times(0.1, 10.1, Fraction(8))) == 80
    assert len(target_times(0.1, 10.1, Fraction(25))) == 250
    assert len(target_times(1.0, 1.125, Fraction(8))) == 1
    assert len(target_times(0.0, 10.0, Fraction(30000, 1001))) == 300  # 299.7 -> 300 targets
    assert len(target_times(2.0, 2.0 + 1e-9, Fraction(25))) == 1  # start itself is a target
    assert target_times(2.0, 2.0, Fraction(25)) == []


def test_frame_batch_is_frozen(make_clip):
    batch = decode_frames(make_clip(Fraction(25), 2.0), 0, 0.5, Fraction(8))
    assert isinstance(batch, FrameBatch)
    with pytest.raises(AttributeError):
        batch.repeated = 3


def test_torchvision_scaler_sizes_and_crops_as_mmaudio(tmp_path):
    # 134x70: short side 70 -> 48 makes the long side 48 * 134 / 70 = 91.9, which torchvision
    # truncates to 91 (rounding would give 92); the 48 crop then starts at round(43 / 2) = 22.
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 70, 134, 3), dtype=np.uint8)
    path = write_video(tmp_path / "odd.mp4", frames, Fraction(25))
    native = decode_frames(path, 0.0, 0.16, Fraction(25)).frames
    assert native.shape == (4, 70, 134, 3)
    resized = decode_frames(path, 0.0, 0.16, Fraction(25), short_side=48, scaler="torchvision").frames
    assert resized.shape == (4, 48, 91, 3)
    cropped = decode_frames(path, 0.0, 0.16, Fraction(25), short_side=48, center_crop=48,
                            scaler="torchvision").frames
    np.testing.assert_array_equal(cropped, resized[:, :, 22:70])
    # exactly torchvision's antialiased bicubic on each decoded frame, nothing else
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2.functional import resize

    expected = resize(torch.from_numpy(native).permute(0, 3, 1, 2), [48], InterpolationMode.BICUBIC,
                      antialias=True)
    np.testing.assert_array_equal(resized, expected.permute(0, 2, 3, 1).numpy())
    squeezed = decode_frames(path, 0.0, 0.16, Fraction(8), size=(30, 40), scaler="torchvision").frames
    assert squeezed.shape == (2, 30, 40, 3)  # size: (height, width), aspect not kept


def test_frame_spec_rejects_unknown_scalers_and_bars_with_torchvision():
    with pytest.raises(ValueError, match="scaler"):
        FrameSpec(Fraction(8), size=(8, 8), scaler="pillow")
    with pytest.raises(ValueError):
        FrameSpec(Fraction(8), size=(8, 8), crop_bars=True, scaler="torchvision")
    with pytest.raises(ValueError):
        FrameSpec(Fraction(8), scaler="torchvision")  # neither size nor short_side
