"""Writing H.264 MP4 files (optionally with AAC audio), atomically.

Used by tests and by the synthetic world to export clips. With `pts_seconds` it writes
variable-frame-rate files, which real editors and phones produce and the readers must handle.
"""

from __future__ import annotations

import os
from collections import deque
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mfmjt_core.media.aac import add_aac_stream, check_audio, encode_aac, output_rate, packet_time
from mfmjt_core.media.atomic import atomic_output
from mfmjt_core.media.container import FFmpegError, as_fraction
from mfmjt_core.media.media_errors import MediaWriteError

# Fine clock for variable-rate files (the MPEG-TS / broadcast 90 kHz tick).
_VFR_TIME_BASE = Fraction(1, 90_000)
# Containers that hold H.264 + AAC and that editors import.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: Fraction,
    *,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    gop: int | None = None,
    pts_seconds: np.ndarray | None = None,
) -> Path:
    """Write `frames` uint8 (T, H, W, 3) RGB as H.264 (libx264, yuv420p) MP4/MOV/MKV, atomically.

    fps: the frame rate (a Fraction; 29.97 means 30000/1001). audio: optional float32 (C, N),
    1 or 2 channels, at `sample_rate`, stored as AAC (at that rate when AAC allows it, else 48
    kHz). gop: keyframe interval in frames (x264's default when None). pts_seconds: optional
    strictly increasing presentation times (T,) for a variable-frame-rate file; the last frame
    then lasts 1/fps. H and W must be even (4:2:0 chroma). Returns the path written.
    """
    target = check_video_suffix(path)
    video = _check_frames(frames)
    rate = as_fraction(fps)
    times = _check_times(pts_seconds, len(video)) if pts_seconds is not None else None
    sound = check_audio(audio, sample_rate) if audio is not None else None
    with atomic_output(target) as temp:
        try:
            with av.open(str(temp), "w") as out:
                _encode(out, video, rate, times, sound, sample_rate, crf, preset, gop)
        except FFmpegError as e:
            raise MediaWriteError(f"cannot write {target}: {e}") from None
    return target


def check_video_suffix(path: str | os.PathLike) -> Path:
    """`path` as a Path, or ValueError unless it names an MP4, MOV or MKV file."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"video files must end in one of {VIDEO_SUFFIXES}, got {target.name}")
    return target


def _check_frames(frames: np.ndarray) -> np.ndarray:
    x = np.asarray(frames)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {x.dtype} {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("frames is empty (T = 0)")
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"H.264 4:2:0 needs even height and width, got {x.shape[1]}x{x.shape[2]}")
    return x


def _check_times(pts_seconds: np.ndarray, count: int) -> np.ndarray:
    t = np.asarray(pts_seconds, dtype=np.float64)
    if t.shape != (count,):
        raise ValueError(f"pts_seconds must have one time per frame ({count}), got {t.shape}")
    if not np.isfinite(t).all() or (count > 1 and np.any(np.diff(t) <= 0)) or t[0] < 0:
        raise ValueError("pts_seconds must be finite, >= 0 and strictly increasing")
    return t


def _encode(out, video, rate, times, sound, sample_rate, crf, preset, gop) -> None:
    options = {"crf": str(crf), "preset": preset}
    if gop is not None:
        options["g"] = str(int(gop))
    if times is not None:
        options["bf"] = "0"  # with B-frames the MP4 muxer derives wrong durations for VFR input
    stream = out.add_stream("libx264", rate=rate, options=options)
    stream.width, stream.height = video.shape[2], video.shape[1]
    stream.pix_fmt = "yuv420p"
    time_base = _VFR_TIME_BASE if times is not None else 1 / rate
    stream.codec_context.time_base = time_base
    pts = _frame_ticks(times, len(video), time_base)
    # The encoder leaves packet durations at 0; the muxer needs them for the last frame's length.
    durations = dict(zip(pts, np.diff(pts + [pts[-1] + round(1 / rate / time_base)]).tolist()))

    pending = deque()
    if sound is not None:
        a_rate = output_rate(sample_rate)
        a_stream = add_aac_stream(out, sound.shape[0], a_rate)
        pending.extend(encode_aac(a_stream, sound, sample_rate, a_rate))

    def mux_video(packets) -> None:
        for packet in packets:
            packet.duration = durations.get(packet.pts, 0)
            while pending and packet_time(pending[0]) <= packet_time(packet):
                out.mux(pending.popleft())
            out.mux(packet)

    for i, image in enumerate(video):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = pts[i]
        frame.time_base = time_base
        mux_video(stream.encode(frame))
    mux_video(stream.encode(None))
    while pending:
        out.mux(pending.popleft())


def _frame_ticks(times: np.ndarray | None, count: int, time_base: Fraction) -> list[int]:
    if times is None:
        return list(range(count))
    return [round(Fraction(float(t)) / time_base) for t in times]
