"""Frames of a time range of a video, sampled by timestamp at a target frame rate.

For each target time start + k/fps (k = 0, 1, ... while < end) we take the frame that is on
screen at that instant: the latest source frame whose presentation time is <= the target. Frame
indices are never used, so 23.976, 29.97, 60 fps and variable-rate files all map the same way,
and a range that runs past the end of the video repeats the last frame (counted in `repeated`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from mfmjt_core.media.container import (
    as_fraction,
    as_path,
    check_range,
    container_duration_s,
    decode_from,
    open_media,
    require_video_stream,
)
from mfmjt_core.media.errors import MediaUnreadableError

CLIP_FPS = Fraction(8)
CLIP_SIZE = 384
SYNC_FPS = Fraction(25)
SYNC_SIZE = 224

# A target this close after a frame's timestamp still counts as "at" that frame: user start times
# are floats (1.001 is not exactly 1001/1000) and some containers round timestamps to a tick.
_MIN_TOLERANCE = Fraction(1, 1_000_000)


@dataclass(frozen=True, eq=False)
class FrameBatch:
    """Frames sampled at `fps` from a time range.

    frames: uint8 (T, H, W, 3) RGB. timestamps: float64 (T,) presentation time of the source
    frame taken for each target. targets: float64 (T,) requested times start + k/fps.
    repeated: how many trailing frames repeat the last frame because the video ended early.
    """

    frames: np.ndarray
    timestamps: np.ndarray
    targets: np.ndarray
    fps: Fraction
    repeated: int

    def __len__(self) -> int:
        return len(self.frames)


def target_count(start: float, end: float, fps: Fraction) -> int:
    """Number of targets start + k/fps < end; exact for float ranges like [0.1, 10.1)."""
    if end <= start:
        return 0
    span = (Fraction(end) - Fraction(start)) * fps
    # Float ends a hair above a whole number of frames (10.000000000000002 s) add no frame;
    # `start` itself always counts.
    return max(1, math.ceil(span - Fraction(1, 1_000_000)))


def target_times(start: float, end: float, fps: Fraction | int | float) -> list[Fraction]:
    """The exact target times start + k/fps for k = 0.. while < end."""
    rate = as_fraction(fps)
    first = Fraction(start)
    return [first + Fraction(k) / rate for k in range(target_count(start, end, rate))]


def decode_frames(
    path: str | os.PathLike,
    start: float,
    end: float,
    fps: Fraction,
    *,
    size: tuple[int, int] | None = None,
    short_side: int | None = None,
    center_crop: int | None = None,
) -> FrameBatch:
    """Frames of [start, end) seconds of `path` at `fps`, sampled by timestamp.

    size: (height, width) to resize to (aspect not kept). short_side: resize so the shorter
    displayed side has this length (aspect kept). center_crop: then cut the central square of
    this side. Resizing is bicubic (libswscale). Seeks to the keyframe before `start` and
    decodes forward, so cost grows with the range, not with the position in the file.

    Raises the typed MediaError family for missing/unreadable files, no video stream, an empty
    range or one that starts outside the media.
    """
    if size is not None and short_side is not None:
        raise ValueError("give either size or short_side, not both")
    rate = as_fraction(fps)
    p = as_path(path)
    with open_media(p) as container:
        stream = require_video_stream(container, p)
        check_range(p, start, end, container_duration_s(container))
        stream.thread_type = "AUTO"
        targets = target_times(start, end, rate)
        geometry = _Geometry(stream, size, short_side, center_crop)
        picks, times, repeated = _sample(container, stream, targets, geometry)
    if not picks:
        raise MediaUnreadableError(
            f"no video frame of {p} could be decoded from {start:.3f} s on "
            "(the file may be truncated or damaged)"
        )
    return FrameBatch(
        frames=np.stack(picks),
        timestamps=np.asarray(times, dtype=np.float64),
        targets=np.asarray([float(t) for t in targets], dtype=np.float64),
        fps=rate,
        repeated=repeated,
    )


def clip_frames(path: str | os.PathLike, start: float, end: float) -> FrameBatch:
    """8 fps frames resized (no crop) to 384x384, the input of the CLIP image encoder."""
    return decode_frames(path, start, end, CLIP_FPS, size=(CLIP_SIZE, CLIP_SIZE))


def sync_frames(path: str | os.PathLike, start: float, end: float) -> FrameBatch:
    """25 fps frames, short side resized to 224 then centre-cropped to 224x224, for Synchformer."""
    return decode_frames(path, start, end, SYNC_FPS, short_side=SYNC_SIZE, center_crop=SYNC_SIZE)


class _Geometry:
    """Output size and crop, fixed by the first frame so every output frame has one shape."""

    def __init__(self, stream, size, short_side, center_crop) -> None:
        self._stream = stream
        self._size = size
        self._short_side = short_side
        self._crop = center_crop
        self._plan: tuple[int, int, int, int] | None = None  # scaled w, h, crop x0, y0

    def _make_plan(self, frame: av.VideoFrame) -> tuple[int, int, int, int]:
        sar = self._stream.sample_aspect_ratio
        display_w = frame.width * float(sar) if sar else float(frame.width)
        display_h = float(frame.height)
        if self._size is not None:
            h, w = self._size
        elif self._short_side is not None:
            scale = self._short_side / min(display_w, display_h)
            w = max(self._short_side, round(display_w * scale))
            h = max(self._short_side, round(display_h * scale))
        else:
            w, h = round(display_w), frame.height
        x0 = y0 = 0
        if self._crop is not None:
            if self._crop > min(w, h):
                raise ValueError(f"center_crop {self._crop} is larger than the frame ({w}x{h})")
            x0, y0 = (w - self._crop) // 2, (h - self._crop) // 2
        return w, h, x0, y0

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        if self._plan is None:
            self._plan = self._make_plan(frame)
        w, h, x0, y0 = self._plan
        if (w, h) == (frame.width, frame.height):
            rgb = frame.to_ndarray(format="rgb24")
        else:
            rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="BICUBIC")
            rgb = rgb.to_ndarray()
        if self._crop is not None:
            rgb = rgb[y0 : y0 + self._crop, x0 : x0 + self._crop]
        return np.ascontiguousarray(rgb)


def _sample(container, stream, targets: list[Fraction], geometry: _Geometry):
    """Walk decoded frames once, giving each target the latest frame with pts <= target."""
    time_base = stream.time_base
    tolerance = max(_MIN_TOLERANCE, time_base / 2)
    nominal = stream.average_rate or stream.guessed_rate or Fraction(25)
    picks: list[np.ndarray] = []
    times: list[float] = []
    current = None  # (time, frame, rgb or None) of the latest frame at or before the next target
    k = 0

    def take(entry) -> tuple:
        t, frame, rgb = entry
        if rgb is None:
            rgb = geometry.to_rgb(frame)
        picks.append(rgb)
        times.append(float(t))
        return t, frame, rgb

    first_target = targets[0] if targets else Fraction(0)
    for t, frame in decode_from(container, stream, first_target, tolerance=tolerance):
        if current is not None and t <= current[0]:
            continue  # duplicate or out-of-order timestamp: keep the frame already held
        entry = (t, frame, None)
        while k < len(targets) and t > targets[k] + tolerance:
            # This frame comes after target k, so the held frame is the one on screen; with none
            # held (target before the first frame) the first frame stands in.
            current = take(current if current is not None else entry)
            if current[1] is frame:
                entry = current
            k += 1
        if k >= len(targets):
            return picks, times, 0
        current = entry

    if current is None:
        return picks, times, 0
    # The video ended before the last targets: they all show the last frame; those after its
    # display interval are repeats.
    last_t, last_frame, _ = current
    duration = (
        last_frame.duration * time_base
        if last_frame.duration and time_base
        else 1 / Fraction(nominal)
    )
    last_end = last_t + duration
    repeated = sum(1 for t in targets[k:] if t + tolerance >= last_end)
    while k < len(targets):
        current = take(current)
        k += 1
    return picks, times, repeated
