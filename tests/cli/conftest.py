"""Fixtures for the command line's tests: a short real video and real small file systems."""

from __future__ import annotations

import contextlib
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> Path:
    """A 2 s, 25 fps, 64x48 H.264 clip."""
    from mfmjt_core.media import write_video

    path = tmp_path_factory.mktemp("cli-media") / "clip.mp4"
    frames = np.zeros((50, 48, 64, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(50, dtype=np.uint8)[:, None, None] * 5
    return write_video(path, frames, Fraction(25))


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, *options: str):
    """A real tmpfs at `folder` (root only: CI runs as root); skips the test where mounting is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); run as root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def read_only_folder(tmp_path):
    with mounted_tmpfs(tmp_path / "ro", "ro", "size=1m") as folder:
        yield folder


@pytest.fixture
def full_folder(tmp_path):
    """A 256 KiB file system that holds the folder but not a 2 s float32 take."""
    with mounted_tmpfs(tmp_path / "full", "size=256k") as folder:
        yield folder
