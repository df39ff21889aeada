"""Synthetic test media: every frame carries its own index as horizontal black/white stripes.

Stripes span the full width, so they survive resizing and centre cropping, and 36-pixel bands
survive H.264 at crf 18. Clips are small (128x72) so the whole folder stays fast.
"""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from mfmjt_core.media import write_video

BITS = 10  # up to 1023 frames
WIDTH, HEIGHT = 128, 80  # 8 pixel rows per bit


def frame_codes(count: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """uint8 (count, H, W, 3) frames; bit b of the frame index is stripe b (white = 1)."""
    index = np.arange(count)[:, None]
    rows = (np.arange(height) * BITS // height)[None, :]  # which bit each pixel row shows
    on = (index >> rows) & 1  # (count, H)
    frames = np.repeat((on * 255).astype(np.uint8)[:, :, None, None], width, axis=2)
    return np.repeat(frames, 3, axis=3)


def read_codes(frames: np.ndarray) -> np.ndarray:
    """The frame index encoded in each of `frames` (T, H, W, 3), read at stripe centres."""
    height = frames.shape[1]
    centres = [int((b + 0.5) * height / BITS) for b in range(BITS)]
    levels = frames[:, centres, :, :].mean(axis=(2, 3))  # (T, BITS)
    bits = (levels > 127).astype(np.int64)
    return (bits << np.arange(BITS)).sum(axis=1)


def expected_index(targets, rate: Fraction, count: int) -> np.ndarray:
    """Index of the frame on screen at each target of a constant-rate clip (pts = i / rate)."""
    tol = Fraction(1, 1_000_000)
    out = []
    for t in targets:
        i = int((Fraction(float(t)) + tol) * rate)  # floor: latest frame with i/rate <= t
        out.append(min(max(i, 0), count - 1))
    return np.asarray(out)


@pytest.fixture(scope="session")
def codes():
    """Helpers to make and read index-coded frames."""
    return SimpleNamespace(
        make=frame_codes, read=read_codes, expected=expected_index, bits=BITS
    )


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory):
    """`make_clip(rate, seconds, gop=12, **write_video_kwargs)` -> path of a cached coded clip."""
    folder = tmp_path_factory.mktemp("clips")
    cache: dict = {}

    def make(rate: Fraction, seconds: float, gop: int = 12, **kwargs):
        key = (rate, seconds, gop, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        if key not in cache:
            count = int(Fraction(str(seconds)) * rate)
            name = f"clip_{rate.numerator}_{rate.denominator}_{seconds}_{len(cache)}.mp4"
            cache[key] = write_video(folder / name, frame_codes(count), rate, gop=gop, **kwargs)
        return cache[key]

    return make
