"""Copies of a test video with the same picture packets in another container layout (fast start,
another clock), as cameras, phones and web downloads make them."""

from __future__ import annotations

from pathlib import Path

import av


def remux(source: Path, target: Path, **options: str) -> Path:
    """`target`: the first video stream of `source`, packets copied, written with muxer `options`
    (e.g. movflags="faststart", video_track_timescale="90000")."""
    with av.open(str(source)) as src, av.open(str(target), "w", options=options) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:  # the demuxer's end-of-stream marker
                packet.stream = stream
                out.mux(packet)
    return target
