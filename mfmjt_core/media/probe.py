"""What a media file holds: duration, streams, frame rate, size, audio format."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from mfmjt_core.media.container import (
    as_path,
    container_duration_s,
    find_video_stream,
    open_media,
    scan_duration_s,
)
from mfmjt_core.media.media_errors import MediaUnreadableError

# Packets looked at to decide whether the frame rate varies: a few seconds of video, read
# without decoding, so probing stays cheap on long files.
_VFR_SCAN_PACKETS = 120


@dataclass(frozen=True)
class MediaInfo:
    """Summary of a media file. Video and audio fields are None when that stream is absent."""

    path: Path
    duration_s: float
    has_video: bool
    has_audio: bool
    fps: Fraction | None  # average frame rate of the first video stream
    width: int | None
    height: int | None
    audio_sample_rate: int | None
    audio_channels: int | None
    variable_frame_rate: bool | None  # None when there is no video or too few frames to tell
    video_codec: str | None = None
    audio_codec: str | None = None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read the header of `path` (and a few seconds of video packets to detect variable rate).

    Raises MediaNotFoundError / MediaUnreadableError for missing or non-media files.
    """
    p = as_path(path)
    with open_media(p) as container:
        video = find_video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:  # only cover art
            raise MediaUnreadableError(f"{p} has neither a video nor an audio stream")
        duration = container_duration_s(container)
        if duration is None:
            duration = scan_duration_s(container)
        if duration is None or duration <= 0:
            raise MediaUnreadableError(f"{p} has no readable duration (no timestamped packets)")
        fps = None
        vfr = None
        if video is not None:
            rate = video.average_rate or video.guessed_rate
            fps = Fraction(rate) if rate else None
            vfr = _varies(_first_packet_times(container, video), video.time_base)
        return MediaInfo(
            path=p,
            duration_s=float(duration),
            has_video=video is not None,
            has_audio=audio is not None,
            fps=fps,
            width=video.codec_context.width if video is not None else None,
            height=video.codec_context.height if video is not None else None,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
            audio_channels=audio.codec_context.channels if audio is not None else None,
            variable_frame_rate=vfr,
            video_codec=video.codec_context.name if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )


def _first_packet_times(container, video) -> list[int]:
    """Presentation timestamps (ticks) of the first few video packets, demuxed only."""
    pts = []
    for packet in container.demux(video):
        if packet.pts is not None:
            pts.append(packet.pts)
            if len(pts) >= _VFR_SCAN_PACKETS:
                break
    return pts


def _varies(pts: list[int], time_base: Fraction | None) -> bool | None:
    """True when frame intervals differ by more than timestamp rounding can explain."""
    if len(pts) < 3 or time_base is None:
        return None
    steps = np.diff(np.sort(np.asarray(pts, dtype=np.int64)))
    steps = steps[steps > 0]
    if len(steps) < 2:
        return None
    # Containers with millisecond time bases store 29.97 fps as 33/34 ms steps: allow 2 ticks
    # of rounding plus 1% of the typical step.
    tolerance = max(2, 0.01 * float(np.median(steps)))
    return bool(steps.max() - steps.min() > tolerance)
