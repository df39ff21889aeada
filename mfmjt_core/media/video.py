"""Frames of a time range of a video, sampled by timestamp at a target frame rate.

For each target time start + k/fps (k = 0, 1, ... while < end) we take the frame that is on
screen at that instant: the latest source frame whose presentation time is <= the target. Frame
indices are never used, so 23.976, 29.97, 60 fps and variable-rate files all map the same way,
and a range that runs past the end of the video repeats the last frame (counted in `repeated`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from mfmjt_core.media.container import (
    as_fraction,
    as_path,
    check_range,
    container_duration_s,
    decode_from,
    open_media,
    require_video_stream,
)
from mfmjt_core.media.media_errors import MediaUnreadableError
from mfmjt_core.media.mmaudio_transform import mmaudio_resize

CLIP_FPS = Fraction(8)
CLIP_SIZE = 384
SYNC_FPS = Fraction(25)
SYNC_SIZE = 224
SCALERS = ("swscale", "torchvision")

# A target this close after a frame's timestamp still counts as "at" that frame: user start times
# are floats (1.001 is not exactly 1001/1000) and some containers round timestamps to a tick.
_MIN_TOLERANCE = Fraction(1, 1_000_000)
# Frames up to this size decode and scale on the calling thread (see _threads_for).
_SMALL_FRAME_PIXELS = 320 * 240
# Black bars: edge rows/columns whose brightest pixel is at most this (video black is 16 in
# limited range; encoders ring a little around the picture's edge), and only bars of at least
# BAR_MIN_FRACTION of the side count (a dark line at the edge is picture, not a bar).
BAR_LEVEL = 24
BAR_MIN_FRACTION = 0.02


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


def target_times(start: float, end: float, fps: Fraction | float) -> list[Fraction]:
    """The exact target times start + k/fps for k = 0.. while < end."""
    rate = as_fraction(fps)
    first = Fraction(start)
    return [first + Fraction(k) / rate for k in range(target_count(start, end, rate))]


@dataclass(frozen=True)
class FrameSpec:
    """One frame sequence to sample: rate, geometry and scaling filter.

    size: (height, width) to resize to (aspect not kept). short_side: resize so the shorter
    displayed side has this length (aspect kept). center_crop: then cut the central square of
    this side. interpolation: libswscale filter name ("BICUBIC", "AREA", "BILINEAR", ...).
    scaler: "swscale" (libswscale with `interpolation`, sizes from the displayed aspect) or
    "torchvision" (MMAudio's transform on the coded RGB frame: `mmaudio_transform`; bicubic).
    crop_bars: with `size`, leave out black bars (a letterbox or pillarbox seen in the first
    frame: see `content_box`), so that a picture an editor framed inside a wider canvas is
    scaled as itself, not squeezed together with its bars.
    """

    fps: Fraction
    size: tuple[int, int] | None = None
    short_side: int | None = None
    center_crop: int | None = None
    interpolation: str = "BICUBIC"
    crop_bars: bool = False
    scaler: str = "swscale"

    def __post_init__(self) -> None:
        if self.size is not None and self.short_side is not None:
            raise ValueError("give either size or short_side, not both")
        if self.crop_bars and (self.size is None or self.center_crop is not None):
            raise ValueError("crop_bars goes with size (and without center_crop)")
        if self.scaler not in SCALERS:
            raise ValueError(f"scaler must be one of {SCALERS}, not {self.scaler!r}")
        if self.scaler == "torchvision" and (self.crop_bars or (self.size is None) == (self.short_side is None)):
            raise ValueError("the torchvision scaler takes size or short_side, and no crop_bars")
        object.__setattr__(self, "fps", as_fraction(self.fps))
        if self.interpolation.upper() not in Interpolation.__members__:
            raise ValueError(f"unknown interpolation {self.interpolation!r}")

    @property
    def geometry_key(self) -> tuple:
        return (self.size, self.short_side, self.center_crop, self.interpolation.upper(),
                self.crop_bars, self.scaler)


def mmaudio_specs(clip_size: int = CLIP_SIZE, sync_size: int = SYNC_SIZE) -> list[FrameSpec]:
    """MMAudio's two frame sequences: 8 fps resized to clip_size x clip_size (aspect not kept)
    and 25 fps with the short side at sync_size, centre-cropped square; torchvision bicubic."""
    return [FrameSpec(CLIP_FPS, size=(clip_size, clip_size), scaler="torchvision"),
            FrameSpec(SYNC_FPS, short_side=sync_size, center_crop=sync_size, scaler="torchvision")]


def decode_frames(
    path: str | os.PathLike,
    start: float,
    end: float,
    fps: Fraction,
    *,
    size: tuple[int, int] | None = None,
    short_side: int | None = None,
    center_crop: int | None = None,
    interpolation: str = "BICUBIC",
    scaler: str = "swscale",
) -> FrameBatch:
    """Frames of [start, end) seconds of `path` at `fps`, sampled by timestamp.

    size: (height, width) to resize to (aspect not kept). short_side: resize so the shorter
    displayed side has this length (aspect kept). center_crop: then cut the central square of
    this side. Resizing uses libswscale with `interpolation` (bicubic by default; "AREA" for
    strong downscaling); scaler="torchvision" resizes as MMAudio does (see FrameSpec). Seeks
    to the keyframe before `start` and decodes forward, so cost grows with the range, not with
    the position in the file.

    Raises the typed MediaError family for missing/unreadable files, no video stream, an empty
    range or one that starts outside the media.
    """
    spec = FrameSpec(fps, size, short_side, center_crop, interpolation, scaler=scaler)
    return decode_frame_sets(path, start, end, [spec])[0]


def decode_frame_sets(
    path: str | os.PathLike, start: float, end: float, specs: Sequence[FrameSpec]
) -> list[FrameBatch]:
    """One FrameBatch per spec, all from a single decoding pass over [start, end).

    Each batch is exactly what `decode_frames` gives for that spec alone; a source frame picked
    by several specs of one geometry is converted once. Raises like `decode_frames`.
    """
    if not specs:
        raise ValueError("give at least one FrameSpec")
    p = as_path(path)
    with open_media(p) as container:
        stream = require_video_stream(container, p)
        check_range(p, start, end, container_duration_s(container))
        threads = _threads_for(stream)
        stream.thread_type = "AUTO" if threads == 0 else "NONE"
        geometries: dict[tuple, _Geometry] = {}
        walks = []
        for spec in specs:
            key = spec.geometry_key
            if key not in geometries:
                geometries[key] = _Geometry(stream, spec, len(geometries), threads)
            walks.append(_TargetWalk(target_times(start, end, spec.fps), geometries[key]))
        _walk_stream(container, stream, walks)
    if not walks[0].picks:
        raise MediaUnreadableError(
            f"no video frame of {p} could be decoded from {start:.3f} s on "
            "(the file may be truncated or damaged)"
        )
    return [
        FrameBatch(
            frames=np.stack(w.picks),
            timestamps=np.asarray(w.times, dtype=np.float64),
            targets=np.asarray([float(t) for t in w.targets], dtype=np.float64),
            fps=spec.fps,
            repeated=w.repeated,
        )
        for spec, w in zip(specs, walks)
    ]


def clip_frames(path: str | os.PathLike, start: float, end: float) -> FrameBatch:
    """8 fps frames resized (no crop) to 384x384, the input of the CLIP image encoder."""
    return decode_frame_sets(path, start, end, mmaudio_specs()[:1])[0]


def sync_frames(path: str | os.PathLike, start: float, end: float) -> FrameBatch:
    """25 fps frames, short side resized to 224 then centre-cropped to 224x224, for Synchformer."""
    return decode_frame_sets(path, start, end, mmaudio_specs()[1:])[0]


def _threads_for(stream) -> int:
    """Decoder and scaler threads: 1 for small frames, whose per-frame work is shorter than
    handing it to threads (a 96x96 clip decodes 2x faster unthreaded); 0 (automatic) above."""
    ctx = stream.codec_context
    pixels = (ctx.width or 0) * (ctx.height or 0)  # 0 when the header does not say
    return 1 if 0 < pixels <= _SMALL_FRAME_PIXELS else 0


class _Geometry:
    """Output size and crop, fixed by the first frame so every output frame has one shape.

    One scaler is kept for the whole pass: libswscale reuses its context while the parameters
    stay the same, instead of building a new one for every frame.
    """

    def __init__(self, stream, spec: FrameSpec, index: int, threads: int) -> None:
        self._stream = stream
        self._size = spec.size
        self._short_side = spec.short_side
        self._crop = spec.center_crop
        self._crop_bars = spec.crop_bars
        self._interpolation = spec.interpolation.upper()
        self._torchvision = spec.scaler == "torchvision"
        self.index = index  # slot of this geometry's conversion in each decoded frame
        self._threads = threads
        self._scaler = VideoReformatter()
        self._plan: tuple[int, int, int, int, int, int] | None = None

    def _make_plan(self, frame: av.VideoFrame) -> tuple[int, int, int, int, int, int]:
        """(scaled w, h, crop x0, y0, crop w, h); the crop is the whole scaled frame when none."""
        sar = self._stream.sample_aspect_ratio
        display_w = frame.width * float(sar) if sar else float(frame.width)
        display_h = float(frame.height)
        if self._size is not None:
            h, w = self._size
            box = content_box(frame) if self._crop_bars else None
            if box is not None:  # scale so that the box becomes (h, w), then cut it out
                left, top, right, bottom = box
                sw, sh = round(frame.width * w / (right - left)), round(frame.height * h / (bottom - top))
                x0 = min(round(left * w / (right - left)), sw - w)
                y0 = min(round(top * h / (bottom - top)), sh - h)
                return sw, sh, x0, y0, w, h
        elif self._short_side is not None:
            scale = self._short_side / min(display_w, display_h)
            w = max(self._short_side, round(display_w * scale))
            h = max(self._short_side, round(display_h * scale))
        else:
            w, h = round(display_w), frame.height
        if self._crop is None:
            return w, h, 0, 0, w, h
        if self._crop > min(w, h):
            raise ValueError(f"center_crop {self._crop} is larger than the frame ({w}x{h})")
        return w, h, (w - self._crop) // 2, (h - self._crop) // 2, self._crop, self._crop

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        if self._torchvision:  # RGB at the coded size, then MMAudio's own transform
            rgb = self._scaler.reformat(frame, format="rgb24", threads=self._threads).to_ndarray()
            return mmaudio_resize(rgb, size=self._size, short_side=self._short_side,
                                  center_crop=self._crop)
        if self._plan is None:
            self._plan = self._make_plan(frame)
        w, h, x0, y0, cw, ch = self._plan
        if (w, h) == (frame.width, frame.height):  # colour conversion only, as to_ndarray does
            rgb = self._scaler.reformat(frame, format="rgb24", threads=self._threads)
        else:
            rgb = self._scaler.reformat(frame, width=w, height=h, format="rgb24",
                                        interpolation=self._interpolation, threads=self._threads)
        rgb = rgb.to_ndarray()
        if (cw, ch) != (w, h):
            rgb = rgb[y0 : y0 + ch, x0 : x0 + cw]
        return np.ascontiguousarray(rgb)


def content_box(frame: av.VideoFrame) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the picture inside black bars, in coded pixels; None when
    the frame shows no bars. Bars are what a letterbox or pillarbox makes: black full rows (or
    columns) on both sides of one axis, as wide on one side as on the other (within a pixel and
    1 %). A small bright thing on a black background is not boxed: it is dark on both axes or
    off centre. A frame black all over gives no box to trust."""
    luma = frame.to_ndarray(format="gray")
    rows = np.flatnonzero(luma.max(1) > BAR_LEVEL)
    cols = np.flatnonzero(luma.max(0) > BAR_LEVEL)
    if rows.size == 0:
        return None
    height, width = luma.shape
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    side = (box[0], width - box[2])  # left and right bars
    lid = (box[1], height - box[3])  # top and bottom bars

    def bars(pair: tuple[int, int], length: int) -> bool:
        return min(pair) >= BAR_MIN_FRACTION * length and abs(pair[0] - pair[1]) <= 1 + 0.01 * length

    def none(pair: tuple[int, int], length: int) -> bool:
        return max(pair) < BAR_MIN_FRACTION * length

    if bars(side, width) and none(lid, height):
        return box[0], 0, box[2], height
    if bars(lid, height) and none(side, width):
        return 0, box[1], width, box[3]
    return None


class _Decoded:
    """A decoded frame with its exact time and its conversions, made on first use."""

    __slots__ = ("frame", "rgb", "t")

    def __init__(self, t: Fraction, frame: av.VideoFrame, geometries: int) -> None:
        self.t, self.frame = t, frame
        self.rgb: list[np.ndarray | None] = [None] * geometries

    def converted(self, geometry: _Geometry) -> np.ndarray:
        if self.rgb[geometry.index] is None:
            self.rgb[geometry.index] = geometry.to_rgb(self.frame)
        return self.rgb[geometry.index]


class _TargetWalk:
    """Gives each target of one rate the latest frame with pts <= target, as frames stream by."""

    def __init__(self, targets: list[Fraction], geometry: _Geometry) -> None:
        self.targets = targets
        self.geometry = geometry
        self.picks: list[np.ndarray] = []
        self.times: list[float] = []
        self.repeated = 0
        self.k = 0
        self.current: _Decoded | None = None  # latest frame at or before the next target

    @property
    def done(self) -> bool:
        return self.k >= len(self.targets)

    def _take(self, entry: _Decoded) -> None:
        self.picks.append(entry.converted(self.geometry))
        self.times.append(float(entry.t))
        self.k += 1

    def feed(self, entry: _Decoded, tolerance: Fraction) -> None:
        if self.current is not None and entry.t <= self.current.t:
            return  # duplicate or out-of-order timestamp: keep the frame already held
        while not self.done and entry.t > self.targets[self.k] + tolerance:
            # This frame comes after target k, so the held frame is the one on screen; with none
            # held (target before the first frame) the first frame stands in.
            self._take(self.current if self.current is not None else entry)
        if not self.done:
            self.current = entry

    def finish(self, last_end: Fraction, tolerance: Fraction) -> None:
        """The video ended before the last targets: they all show the last frame; those after
        its display interval (ending at `last_end`) are repeats."""
        if self.current is None:
            return
        self.repeated = sum(1 for t in self.targets[self.k :] if t + tolerance >= last_end)
        while not self.done:
            self._take(self.current)


def _walk_stream(container, stream, walks: list[_TargetWalk]) -> None:
    """Decode once from the first target on, feeding every frame to the walks still running."""
    time_base = stream.time_base
    tolerance = max(_MIN_TOLERANCE, time_base / 2)
    nominal = stream.average_rate or stream.guessed_rate or Fraction(25)
    first_target = min((w.targets[0] for w in walks if w.targets), default=Fraction(0))
    geometries = 1 + max(w.geometry.index for w in walks)
    last = None
    for t, frame in decode_from(container, stream, first_target, tolerance=tolerance):
        entry = _Decoded(t, frame, geometries)
        for w in walks:
            w.feed(entry, tolerance)
        if all(w.done for w in walks):
            return  # stop decoding as soon as every target has its frame
        if last is None or t > last.t:
            last = entry
    if last is None:
        return
    duration = (
        last.frame.duration * time_base
        if last.frame.duration and time_base
        else 1 / Fraction(nominal)
    )
    for w in walks:
        w.finish(last.t + duration, tolerance)
