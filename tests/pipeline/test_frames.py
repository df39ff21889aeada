"""Frames for the encoders: one pass, area scaling for the small encoders, bicubic for CLIP."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from mfmjt_core.media import decode_frames
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


def test_clip_and_synchformer_keep_bicubic_sizes_and_crop(video):
    big = SimpleNamespace(clip=SimpleNamespace(image_size=96),
                          sync=SimpleNamespace(cfg=SimpleNamespace(image_size=48)))
    frames8, frames25 = decode_for_encoders(big, video, 0.0, 1.0)
    want8 = decode_frames(video, 0.0, 1.0, Fraction(8), size=(96, 96)).frames
    want25 = decode_frames(video, 0.0, 1.0, Fraction(25), short_side=48, center_crop=48).frames
    np.testing.assert_array_equal(frames8, want8)
    np.testing.assert_array_equal(frames25, want25)
    assert frames8.shape == (8, 96, 96, 3) and frames25.shape == (25, 48, 48, 3)
