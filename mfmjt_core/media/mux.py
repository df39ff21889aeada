"""A copy of a video with new audio, for previews: the picture is copied, not re-encoded."""

from __future__ import annotations

import io
import os
from collections import deque
from pathlib import Path

import av
import numpy as np

from mfmjt_core.media.aac import add_aac_stream, check_audio, encode_aac, packet_time
from mfmjt_core.media.atomic import atomic_output
from mfmjt_core.media.container import FFmpegError, as_path, open_media, require_video_stream
from mfmjt_core.media.media_errors import MediaUnreadableError, MediaWriteError
from mfmjt_core.media.writer import VIDEO_SUFFIXES, check_video_suffix

MUX_SAMPLE_RATE = 48_000  # editors' and players' native rate


def mux_audio(
    video_path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike,
    *,
    start: float = 0.0,
) -> Path:
    """Write `out_path`: the first video stream of `video_path` (packets copied byte for byte)
    plus `audio` float32 (C, N), 1 or 2 channels, as 48 kHz AAC. Other streams are dropped.

    The audio begins at `start` seconds of the video's timeline (the time a range of it was
    read from), so a take made for 10-12 s plays at 10 s; before and after it there is no sound.
    Atomic; `out_path` may equal `video_path`. Returns the path written.
    """
    sound = check_audio(audio, sample_rate)
    if not (start >= 0 and np.isfinite(start)):
        raise ValueError(f"start must be a time >= 0 s, got {start}")
    source = as_path(video_path)
    target = check_video_suffix(out_path)
    with atomic_output(target) as temp, open_media(source) as container:
        video_in = require_video_stream(container, source)
        packets = _read_packets(container, video_in, source)
        try:
            with av.open(str(temp), "w") as out:
                _remux(out, out.add_stream_from_template(video_in), packets, sound, int(sample_rate), start)
        except (FFmpegError, ValueError) as e:  # PyAV refuses a codec the container lacks with ValueError
            raise MediaWriteError(f"cannot write {target}: {e}") from None
    return target


def check_mux(video_path: str | os.PathLike, out_path: str | os.PathLike) -> None:
    """Raise now what `mux_audio` would raise for these two files (a missing or damaged video,
    one without a picture, a picture the copy's container cannot carry), before any sound is
    made; the last names the suffixes that can carry it."""
    source = as_path(video_path)
    target = check_video_suffix(out_path)
    with open_media(source) as container:
        picture = require_video_stream(container, source)
        problem = _header_problem(picture, target.suffix.lower())
        if problem is None:
            return
        others = [s for s in VIDEO_SUFFIXES if _FORMATS[s] != _FORMATS[target.suffix.lower()]
                  and _header_problem(picture, s) is None]
        where = f"an {' or '.join(others)} copy can carry it" if others else "convert the video first"
        raise MediaWriteError(f"cannot copy the picture ({picture.codec_context.name}) into {target.name} "
                              f"({problem}): {where}")


# The muxer behind each video suffix (`av.open` picks it from a file name; a probe has none).
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def _header_problem(picture, suffix: str) -> str | None:
    """Why a `suffix` file cannot start with a copy of `picture` and an AAC track (None: it can),
    found by writing the header into memory."""
    try:
        with av.open(io.BytesIO(), "w", format=_FORMATS[suffix]) as out:
            out.add_stream_from_template(picture)
            add_aac_stream(out, 1, MUX_SAMPLE_RATE)
            out.start_encoding()
    except (FFmpegError, ValueError) as e:
        return str(e)
    return None


def _remux(out, video_out, packets, sound: np.ndarray, sample_rate: int, start: float) -> None:
    audio_out = add_aac_stream(out, sound.shape[0], MUX_SAMPLE_RATE)
    pending = deque(encode_aac(audio_out, sound, sample_rate, MUX_SAMPLE_RATE))
    for packet in pending:  # moved to the range's place on the video's timeline
        shift = round(start / packet.time_base)
        packet.pts = None if packet.pts is None else packet.pts + shift
        packet.dts = None if packet.dts is None else packet.dts + shift
    for packet in packets:
        if packet.dts is None:  # demuxer's end-of-stream marker, not data
            continue
        while pending and packet_time(pending[0]) <= packet_time(packet):
            out.mux(pending.popleft())
        packet.stream = video_out
        out.mux(packet)
    while pending:
        out.mux(pending.popleft())


def _read_packets(container, stream, source: Path):
    """Demuxed packets; a damaged input is reported as such, not as a write failure."""
    try:
        yield from container.demux(stream)
    except FFmpegError as e:
        raise MediaUnreadableError(f"{source} is damaged ({e})") from None
