"""Opening media files with PyAV and turning its failures into typed errors.

Everything that reads a file goes through `open_media`, so every reader gives the same
messages for a missing file, a directory, a non-media file or a damaged container.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import stat
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.stream

from mfmjt_core.media.media_errors import (
    EmptyRangeError,
    MediaNotFoundError,
    MediaUnreadableError,
    NoAudioStreamError,
    NoVideoStreamError,
    RangeOutsideMediaError,
)

# Seconds PyAV may block on one read; only matters for pipes and network-like files, but it
# bounds the worst case so a reader never hangs.
_READ_TIMEOUT_S = 10.0
# When a seek lands after the wanted time, step back this many seconds and decode again.
_SEEK_BACKOFF_S = 1.0
# Rejected packets in a row after which a stream counts as undecodable rather than glitched.
_MAX_BAD_PACKETS = 50

_log = logging.getLogger(__name__)

FFmpegError = av.error.FFmpegError


def as_path(path: str | os.PathLike) -> Path:
    """A `Path` for `path`, with `~` expanded."""
    return Path(path).expanduser()


@contextlib.contextmanager
def open_media(path: str | os.PathLike) -> Iterator[av.container.InputContainer]:
    """Open `path` for reading; missing, non-regular or unreadable files raise typed errors.

    FFmpeg errors raised inside the `with` block also become `MediaUnreadableError`.
    """
    p = as_path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise MediaNotFoundError(f"no such file: {p}") from None
    except OSError as e:
        raise MediaNotFoundError(f"cannot access {p}: {e.strerror or e}") from None
    # FIFOs and devices would block inside FFmpeg's probe; directories are a common mistake.
    if stat.S_ISDIR(mode):
        raise MediaNotFoundError(f"{p} is a folder, not a media file")
    if not stat.S_ISREG(mode):
        raise MediaNotFoundError(f"{p} is not a regular file")
    if not os.access(p, os.R_OK):
        raise MediaNotFoundError(f"{p} is not readable (permission denied)")
    if p.stat().st_size == 0:
        raise MediaUnreadableError(f"{p} is empty (0 bytes), not a media file")
    try:
        container = av.open(str(p), "r", timeout=_READ_TIMEOUT_S)
    except FFmpegError as e:
        raise MediaUnreadableError(
            f"{p} is not a readable media file ({_describe(e)})"
        ) from None
    if not container.streams.video and not container.streams.audio:
        container.close()
        raise MediaUnreadableError(
            f"{p} is not a readable media file (no audio or video stream found; "
            "truncated or not a media file)"
        )
    try:
        yield container
    except FFmpegError as e:
        raise MediaUnreadableError(
            f"{p} is damaged or cannot be decoded ({_describe(e)})"
        ) from None
    finally:
        container.close()


def _describe(error: Exception) -> str:
    """FFmpeg's message without PyAV's repetition of the file name."""
    text = getattr(error, "strerror", None) or str(error)
    return str(text).strip() or type(error).__name__


def is_cover_art(stream: av.stream.Stream) -> bool:
    """True for an embedded picture (album art) that FFmpeg lists as a video stream."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def find_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream, or None."""
    for s in container.streams.video:
        if not is_cover_art(s):
            return s
    return None


def require_video_stream(
    container: av.container.InputContainer, path: str | os.PathLike
) -> av.video.stream.VideoStream:
    """The first real video stream, or `NoVideoStreamError`."""
    s = find_video_stream(container)
    if s is None:
        raise NoVideoStreamError(f"{as_path(path)} has no video stream")
    return s


def require_audio_stream(
    container: av.container.InputContainer, path: str | os.PathLike
) -> av.audio.stream.AudioStream:
    """The first audio stream, or `NoAudioStreamError`."""
    if not container.streams.audio:
        raise NoAudioStreamError(f"{as_path(path)} has no audio stream")
    return container.streams.audio[0]


def stream_time(stream: av.stream.Stream, ticks: int | None) -> float | None:
    """Seconds for `ticks` in the stream's time base (None stays None)."""
    if ticks is None or stream.time_base is None:
        return None
    return float(ticks * stream.time_base)


def container_duration_s(container: av.container.InputContainer) -> float | None:
    """Duration from the container header, else the longest stream; None if unknown."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    ends = []
    for s in container.streams:
        d = stream_time(s, s.duration)
        if d:
            ends.append(d)
    return max(ends) if ends else None


def scan_duration_s(container: av.container.InputContainer) -> float | None:
    """Duration by reading every packet's timestamps (for files whose header lacks it)."""
    end = None
    for packet in container.demux():
        if packet.pts is None or packet.time_base is None:
            continue
        t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
        end = t if end is None else max(end, t)
    container.seek(0)
    return end


def check_range(
    path: str | os.PathLike, start: float, end: float | None, duration_s: float | None
) -> None:
    """Raise a typed error unless [start, end) is a non-empty range that starts inside the media.

    A range may end after the media: readers then repeat the last frame or return fewer samples.
    """
    p = as_path(path)
    if not math.isfinite(start) or (end is not None and not math.isfinite(end)):
        raise RangeOutsideMediaError(f"range [{start}, {end}) of {p} is not finite")
    if end is not None and end <= start:
        raise EmptyRangeError(
            f"range [{start:.3f}, {end:.3f}) s of {p} has zero or negative duration"
        )
    if start < 0:
        raise RangeOutsideMediaError(f"range of {p} starts before 0 s (start={start:.3f} s)")
    if duration_s is not None and start >= duration_s:
        raise RangeOutsideMediaError(
            f"range starts at {start:.3f} s but {p} is only {duration_s:.3f} s long"
        )


def as_fraction(rate: Fraction | float | str) -> Fraction:
    """A positive frame rate as a Fraction; floats like 29.97 become 30000/1001."""
    if isinstance(rate, float):
        value = Fraction(rate).limit_denominator(1001)
    else:
        value = Fraction(rate)
    if value <= 0:
        raise ValueError(f"frame rate must be positive, got {rate}")
    return value


def decode_from(
    container, stream, start: Fraction, *, preroll_s: float = 0.0, tolerance: Fraction = Fraction(0)
):
    """Yield (time, frame) of `stream` from the last keyframe at or before `start`, in order.

    Times are exact Fractions of seconds. `preroll_s` seeks that much earlier, for decoders that
    need a frame or two of warm-up (AAC); a first frame up to `tolerance` after `start` is
    accepted. Seeks land on a keyframe <= the target in nearly every
    container; when one lands later we step back and decode again, ending at the first frame.
    """
    first_pts = stream.start_time or 0
    seek_s = max(0.0, float(start) - preroll_s)
    while True:
        seek_pts = int(math.floor(seek_s / stream.time_base))
        from_first = seek_pts <= first_pts
        container.seek(first_pts if from_first else seek_pts, stream=stream, backward=True)
        frames = _timed_frames(stream, tolerant_decode(container, stream))
        head = next(frames, None)
        if head is None:
            return
        if head[0] <= start + tolerance or from_first:
            yield head
            yield from frames
            return
        seek_s = seek_s - _SEEK_BACKOFF_S if seek_s > _SEEK_BACKOFF_S else 0.0


def tolerant_decode(container, stream):
    """Decoded frames of `stream`, skipping packets the decoder rejects, as players do.

    A cut or damaged tail ends decoding with what was decoded so far; a run of more than
    `_MAX_BAD_PACKETS` rejected packets in a row raises (the stream is not really decodable).
    """
    packets = container.demux(stream)
    bad_in_a_row = skipped = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except FFmpegError:  # the container itself is cut or damaged here: stop reading
            packet = None
        try:
            yield from stream.decode(packet)
            bad_in_a_row = 0
        except FFmpegError:
            if packet is None:
                break
            bad_in_a_row += 1
            skipped += 1
            if bad_in_a_row > _MAX_BAD_PACKETS:
                raise
        if packet is None:
            break
    if skipped:
        _log.warning("skipped %d undecodable packets of %s", skipped, container.name)


def _timed_frames(stream, frames):
    """Frames with exact times; a frame without pts continues from the one before."""
    last = None
    for frame in frames:
        if frame.pts is not None and stream.time_base is not None:
            t = frame.pts * stream.time_base
        elif last is not None:
            t = last + _frame_span(stream, frame)
        else:
            t = Fraction(0)
        last = t
        yield t, frame


def _frame_span(stream, frame) -> Fraction:
    """Nominal length of a frame: its samples for audio, one frame period for video."""
    if stream.type == "audio":
        return Fraction(frame.samples, frame.sample_rate or 1)
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    return 1 / Fraction(rate)
