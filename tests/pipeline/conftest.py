from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mfmjt_core.pipeline.generator import Generator


@pytest.fixture(scope="module")
def generator():
    return Generator.load("tiny-random")


def _frames(n: int, size: int = 64) -> np.ndarray:
    frames = np.zeros((n, size, size, 3), dtype=np.uint8)
    for i in range(n):  # a square that moves one pixel per frame
        x = i % (size - 8)
        frames[i, 20:28, x:x + 8] = 255
    return frames


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A real 10 s, 25 fps H.264 file."""
    from mfmjt_core.media import write_video

    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    return write_video(path, _frames(250), Fraction(25))


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """A real 21 s, 30000/1001 fps file (for windowing)."""
    from mfmjt_core.media import write_video

    path = tmp_path_factory.mktemp("media") / "long.mp4"
    return write_video(path, _frames(630, 32), Fraction(30000, 1001))
