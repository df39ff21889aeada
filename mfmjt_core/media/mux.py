"""A copy of a video with new audio, for previews: the picture is copied, not re-encoded."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import av
import numpy as np

from mfmjt_core.media.aac import add_aac_stream, check_audio, encode_aac, packet_time
from mfmjt_core.media.atomic import atomic_output
from mfmjt_core.media.container import FFmpegError, as_path, open_media, require_video_stream
from mfmjt_core.media.media_errors import MediaUnreadableError, MediaWriteError
from mfmjt_core.media.writer import check_video_suffix

MUX_SAMPLE_RATE = 48_000  # editors' and players' native rate


def mux_audio(
    video_path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike,
) -> Path:
    """Write `out_path`: the first video stream of `video_path` (packets copied byte for byte)
    plus `audio` float32 (C, N), 1 or 2 channels, as 48 kHz AAC. Other streams are dropped.

    Atomic; `out_path` may equal `video_path`. The audio is written as given: trim or pad it
    first (`fit_length`) to match the picture. Returns the path written.
    """
    sound = check_audio(audio, sample_rate)
    source = as_path(video_path)
    target = check_video_suffix(out_path)
    with atomic_output(target) as temp, open_media(source) as container:
        video_in = require_video_stream(container, source)
        packets = _read_packets(container, video_in, source)
        try:
            with av.open(str(temp), "w") as out:
                _remux(out, video_in, packets, sound, int(sample_rate))
        except FFmpegError as e:
            raise MediaWriteError(f"cannot write {target}: {e}") from None
    return target


def _remux(out, video_in, packets, sound: np.ndarray, sample_rate: int) -> None:
    video_out = out.add_stream_from_template(video_in)
    audio_out = add_aac_stream(out, sound.shape[0], MUX_SAMPLE_RATE)
    pending = deque(encode_aac(audio_out, sound, sample_rate, MUX_SAMPLE_RATE))
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
