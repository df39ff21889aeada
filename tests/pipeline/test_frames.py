"""Frames for the encoders: one pass, area scaling for the small encoders, MMAudio's transform for CLIP."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from mfmjt_core.media import decode_frames
from mfmjt_core.media.mmaudio_transform import mmaudio_resize
from mfmjt_core.pipeline.frames import decode_for_encoders


def test_small_encoders_get_area_scaled_frames_at_both_rates(video):
    small = SimpleNamespace(cfg=SimpleNamespace(frame_size=16))
    frames8, frames25 = decode_for_encoders(small, video, 1.0, 3.0)
    assert frames8.shape == (16, 16, 16, 3) and frames25.shape == (50, 16, 16, 3)
    for frames, fps in ((frames8, 8), (frames25, 25)):
        area = decode_frames(video, 1.0, 3.0, Fraction(fps), size=(16, 16),
                             interpolation="AREA").frames
        np.testing.assert_array_equal(frames, area)
    bicubic = decode_frames(video, 1.0, 3.0, Fraction(25), size=(16, 16),
                            interpolation="BICUBIC").frames
    assert not np.array_equal(frames25, bicubic)
    # 25 fps source: every 8 fps instant k/8 s shows frame floor(25 k / 8), also a 25 fps pick
    np.testing.assert_array_equal(frames8, frames25[(np.arange(16) * 25) // 8])


def test_clip_and_synchformer_get_mmaudios_own_transform(video):
    big = SimpleNamespace(clip=SimpleNamespace(image_size=96),
                          sync=SimpleNamespace(cfg=SimpleNamespace(image_size=48)))
    frames8, frames25 = decode_for_encoders(big, video, 0.0, 1.0)
    assert frames8.shape == (8, 96, 96, 3) and frames25.shape == (25, 48, 48, 3)
    # each decoded frame at its own size, then torchvision's resize (and crop), as MMAudio does
    native8 = decode_frames(video, 0.0, 1.0, Fraction(8)).frames
    native25 = decode_frames(video, 0.0, 1.0, Fraction(25)).frames
    np.testing.assert_array_equal(frames8, [mmaudio_resize(f, size=(96, 96)) for f in native8])
    np.testing.assert_array_equal(
        frames25, [mmaudio_resize(f, short_side=48, center_crop=48) for f in native25])
    swscale = decode_frames(video, 0.0, 1.0, Fraction(8), size=(96, 96)).frames
    assert not np.array_equal(frames8, swscale)  # libswscale's bicubic is another filter


def test_small_encoders_leave_out_black_bars(tmp_path):
    # A square picture pillarboxed in a 16:9 frame (as Blender renders a square clip in a wide
    # scene) reaches the small encoders as the picture itself, not squeezed with its bars.
    from mfmjt_core.media import write_video

    y, x = np.mgrid[0:72, 0:72]
    picture = np.stack([x * 3 + 30, y * 3 + 30, (x + y) + 60], -1).astype(np.uint8)
    picture = np.repeat(picture[None], 24, 0)
    boxed = np.zeros((24, 72, 128, 3), np.uint8)
    boxed[:, :, 28:100] = picture
    write_video(tmp_path / "square.mp4", picture, Fraction(24))
    write_video(tmp_path / "boxed.mp4", boxed, Fraction(24))
    small = SimpleNamespace(cfg=SimpleNamespace(frame_size=16))
    square, _ = decode_for_encoders(small, tmp_path / "square.mp4", 0.0, 1.0)
    from_boxed, _ = decode_for_encoders(small, tmp_path / "boxed.mp4", 0.0, 1.0)
    squeezed = decode_frames(tmp_path / "boxed.mp4", 0.0, 1.0, Fraction(8), size=(16, 16), interpolation="AREA").frames
    error = np.abs(from_boxed.astype(int) - square.astype(int)).mean()
    squeezed_error = np.abs(squeezed.astype(int) - square.astype(int)).mean()
    assert from_boxed.shape == square.shape == (8, 16, 16, 3)
    assert error < 5.0 and squeezed_error > 8 * error, (error, squeezed_error)


def test_a_bright_thing_on_black_is_not_taken_for_bars(tmp_path):
    import av

    from mfmjt_core.media import write_video
    from mfmjt_core.media.video import content_box

    frames = np.zeros((2, 72, 128, 3), np.uint8)
    frames[:, 30:42, 58:70] = 220  # centred on both axes: no bars
    frames[1, :, 10:60] = 0
    frames[1, :, 30:98] = 200  # full-height, centred: a pillarbox
    write_video(tmp_path / "dark.mp4", frames, Fraction(24))
    with av.open(str(tmp_path / "dark.mp4")) as container:
        first, second = list(container.decode(video=0))[:2]
    assert content_box(first) is None
    assert content_box(second) == (30, 0, 98, 72)


def test_feature_cache_keys_of_bundle_encoders_name_the_frame_transform():
    # Features cached on disk from frames scaled another way must not be served after a change
    # of transform: the bundle's encoder identity carries the transform's name.
    from mfmjt_core.media.mmaudio_transform import TRANSFORM_ID
    from mfmjt_core.pipeline.generator import _encoder_id

    model = SimpleNamespace(spec=SimpleNamespace(encoders=SimpleNamespace(bundle="mmaudio-small-16k")))
    assert _encoder_id(model) == f"bundle:mmaudio-small-16k:frames={TRANSFORM_ID}"


def test_a_file_cut_short_of_its_stated_length_is_said_not_silently_held(tmp_path, caplog):
    """A fast-start MP4 cut in half still claims its whole duration: its picture ends early and
    the last frame is held. The take goes on, and the log says where the picture ended."""
    import logging

    from media_copies import remux

    from mfmjt_core.media import write_video

    frames = np.random.default_rng(5).integers(0, 255, (100, 48, 64, 3), dtype=np.uint8)
    source = write_video(tmp_path / "noisy.mp4", frames, Fraction(25), gop=12)
    whole = tmp_path / "whole.mp4"
    remux(source, whole, movflags="faststart")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    small = SimpleNamespace(cfg=SimpleNamespace(frame_size=16))

    def notices():
        return [r for r in caplog.records if r.name == "mfmjt_core.pipeline.frames"]

    with caplog.at_level(logging.WARNING):
        decode_for_encoders(small, whole, 0.0, 4.0)
        assert not notices()
        _, frames25 = decode_for_encoders(small, cut, 0.0, 4.0)
    assert len(frames25) == 100
    (record,) = notices()
    held = float(record.args[1])
    assert 1.0 < held < 3.0 and f"ends {held:.2f} s before the range does" in record.getMessage()
    # the held stretch is what the frames show: identical pictures from there to the end
    tail = frames25[-round(held * 25):]
    assert (tail == tail[0]).all()
