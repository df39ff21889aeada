"""Decoding a range at the frame rates and sizes an encoder set expects."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from mfmjt_core.encoders.base import CLIP_FPS, SYNC_FPS, EncoderSet


def decode_for_encoders(
    encoders: EncoderSet, path: str | os.PathLike, start: float, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """(8 fps frames, 25 fps frames) as uint8 (T, H, W, 3).

    MMAudio's encoders take 384x384 (CLIP) and 224x224 centre crops (Synchformer); the small
    encoders take one small square size for both, so decoding at that size skips scaling work.
    """
    from mfmjt_core import media

    size = getattr(getattr(encoders, "cfg", None), "frame_size", None)
    if size is None:  # CLIP + Synchformer, at the sizes they were built for (384 and 224 published)
        clip_size = encoders.clip.image_size
        sync_size = encoders.sync.cfg.image_size
        clip = media.decode_frames(path, start, end, Fraction(CLIP_FPS), size=(clip_size, clip_size))
        sync = media.decode_frames(path, start, end, Fraction(SYNC_FPS), short_side=sync_size, center_crop=sync_size)
        return clip.frames, sync.frames
    clip = media.decode_frames(path, start, end, Fraction(CLIP_FPS), size=(size, size))
    sync = media.decode_frames(path, start, end, Fraction(SYNC_FPS), size=(size, size))
    return clip.frames, sync.frames
