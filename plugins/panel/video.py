"""Reading the picture for the panel with PyAV: facts about a file, the frame shown at a time,
thumbnails. No Qt here; frames are RGB uint8 arrays.

PyAV is already an mfmjt dependency and decodes exactly what the model sees (the same FFmpeg),
so the panel needs no QtMultimedia for pictures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_SEEK_AHEAD_S = 2.0  # beyond this, seeking beats decoding forward


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float  # seconds
    fps: Fraction
    width: int
    height: int
    start_time: float  # the first frame's time stamp (often 0)

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration * self.fps))

    def snap(self, seconds: float) -> float:
        """The start time of the frame that is on screen at `seconds` (frame grid from 0)."""
        index = int(max(0.0, min(seconds, self.duration)) * self.fps + 1e-6)
        return float(min(index, self.frame_count - 1) / self.fps)  # the last frame, not the end after it


class VideoError(Exception):
    """The file cannot be used as a video (missing, unreadable, no picture)."""


def probe(path: str | os.PathLike) -> VideoInfo:
    """Duration, rate and size of the first video stream."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path} has no video stream")
            stream = container.streams.video[0]
            fps = Fraction(stream.average_rate or stream.guessed_rate or 25)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = float((stream.frames or 0) / fps)
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            return VideoInfo(str(path), duration, fps, stream.codec_context.width, stream.codec_context.height, start)
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open {path}: {exc}") from None


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest even size inside the box with the picture's aspect ratio."""
    scale = min(max_width / width, max_height / height, 1.0)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class FrameReader:
    """The frame on screen at any time of one file, decoding forward while time moves forward
    (playback, scrubbing right) and seeking otherwise. Not thread-safe: one reader per thread."""

    def __init__(self, info: VideoInfo, max_size: tuple[int, int] = (640, 360)) -> None:
        self.info = info
        self.size = fit_size(info.width, info.height, *max_size)
        self._container = av.open(info.path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._frames = None
        self._pending = None
        self._shown: np.ndarray | None = None
        self._shown_time = -1.0

    def close(self) -> None:
        self._container.close()

    def frame_at(self, seconds: float) -> np.ndarray:
        """RGB (H, W, 3) of the last frame whose time stamp is at or before `seconds` plus half a
        frame (times count from the file's first frame, like the panel's timeline)."""
        # A frame stamped up to half a frame after `seconds` is the frame at `seconds`: 90 kHz and
        # 600 timescales round stamps a little late, and the export and the daemon read them so.
        t = self.info.start_time + max(0.0, min(seconds, self.info.duration)) + 0.5 / float(self.info.fps)
        if self._shown is not None and self._shown_time <= t and (self._pending is None or t < self._pending.time):
            return self._shown
        if self._shown is None or t < self._shown_time or t - self._shown_time > _SEEK_AHEAD_S:
            self._seek(t)
        while True:
            try:
                frame = self._pending if self._pending is not None else next(self._frames, None)
            except av.error.FFmpegError as exc:  # damaged data: the panel says so, it does not crash
                self._seek(t)  # (a decoder that failed does not go on; the next call starts afresh)
                raise VideoError(f"{Path(self.info.path).name} cannot be decoded at {seconds:.3f} s: "
                                 f"{exc.strerror or exc}") from None
            self._pending = None
            if frame is None:
                break
            if self._shown is not None and frame.time is not None and frame.time > t:
                self._pending = frame
                break
            self._shown = frame.reformat(width=self.size[0], height=self.size[1], format="rgb24").to_ndarray()
            self._shown_time = frame.time if frame.time is not None else t
        if self._shown is None:
            raise VideoError(f"no picture at {seconds:.3f} s in {self.info.path}")
        return self._shown

    def _seek(self, t: float) -> None:
        self._container.seek(int(t / self._stream.time_base), stream=self._stream, backward=True)
        self._frames = self._container.decode(self._stream)
        self._pending, self._shown, self._shown_time = None, None, -1.0


def thumbnails(info: VideoInfo, count: int, height: int = 54) -> list[tuple[float, np.ndarray]]:
    """`count` frames spread evenly over the file, each `height` pixels tall: (time, RGB)."""
    width = max(2, round(info.width * height / info.height) // 2 * 2)
    reader = FrameReader(info, (width, height))
    try:
        return [(t, reader.frame_at(t)) for t in ((i + 0.5) * info.duration / count for i in range(count))]
    finally:
        reader.close()
