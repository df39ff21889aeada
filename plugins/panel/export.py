"""Writing a result out: a 24-bit WAV (the client's writer) or an MP4 of the range with the sound.

The MP4 re-encodes the range's picture (H.264, every frame kept) so it starts exactly at the In
point; stream copying could only cut at keyframes. PyAV directly: plugins never import the
model library.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from mfmjt_daemon.client import Result, write_wav

from .video import VideoInfo

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
_AAC_FRAME = 1024


def export_wav(result: Result, variation: int, path: str | os.PathLike) -> Path:
    """One variation as a 24-bit PCM WAV (atomic)."""
    return write_wav(path, result, variation)


def variation_audio(result: Result, variation: int) -> np.ndarray:
    """One variation as float32 (channels, samples)."""
    return np.frombuffer(result.variation(variation), dtype="<f4").reshape(result.channels, result.samples)


def export_mp4(info: VideoInfo, result: Result, variation: int, start: float, path: str | os.PathLike) -> Path:
    """An H.264 + AAC MP4 of the picture from `start` for the result's duration, with the
    variation as its sound. Written to a temporary name and renamed, so never half-written."""
    if result.sample_rate not in AAC_RATES:
        raise ValueError(f"AAC cannot store {result.sample_rate} Hz; ask the daemon for 48000")
    target = Path(path)
    if target.resolve() == Path(info.path).resolve():  # the export would replace its own picture
        raise ValueError(f"{target.name} is the video the take was made from: choose another name")
    temp = target.with_name(f".{target.name}.partial-{os.getpid()}.mp4")
    try:
        with av.open(info.path) as source, av.open(str(temp), "w") as out:
            _write(source, out, info, variation_audio(result, variation), result.sample_rate, start,
                   result.samples / result.sample_rate)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _write(source, out, info: VideoInfo, audio: np.ndarray, rate: int, start: float, duration: float) -> None:
    video_in = source.streams.video[0]
    video_out = out.add_stream("libx264", rate=info.fps)
    video_out.width, video_out.height = info.width // 2 * 2, info.height // 2 * 2
    video_out.pix_fmt = "yuv420p"
    video_out.options = {"crf": "18", "preset": "veryfast"}
    audio_out = out.add_stream("aac", rate=rate)
    audio_out.layout = "stereo" if audio.shape[0] == 2 else "mono"
    pending = _aac_packets(audio_out, audio, rate)
    first = info.start_time + start
    source.seek(int(first / video_in.time_base), stream=video_in, backward=True)
    index, count = 0, max(1, round(duration * info.fps))
    for frame in source.decode(video_in):
        if frame.time is not None and frame.time + 0.5 / float(info.fps) < first:
            continue  # before the In point (the seek lands on the previous keyframe)
        if index >= count:
            break
        picture = frame.reformat(width=video_out.width, height=video_out.height, format="yuv420p")
        picture.pts, picture.time_base = index, Fraction(1) / info.fps
        for packet in video_out.encode(picture):
            _mux_until(out, pending, packet)
            out.mux(packet)
        index += 1
    if index < count - 1:  # (one frame short is the range's rounding at the video's end)
        raise ValueError(f"the video has {index} of the take's {count} frames from {start:.3f} s: its picture "
                         "ends before the take does")
    for packet in video_out.encode(None):
        _mux_until(out, pending, packet)
        out.mux(packet)
    for packet in pending:
        out.mux(packet)


def _aac_packets(stream, audio: np.ndarray, rate: int) -> list:
    layout = "stereo" if audio.shape[0] == 2 else "mono"
    packets = []
    for i in range(0, audio.shape[1], _AAC_FRAME):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.clip(audio[:, i:i + _AAC_FRAME], -1, 1)),
                                           format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


def _seconds(packet) -> float:
    ticks = packet.dts if packet.dts is not None else packet.pts
    return float(ticks * packet.time_base) if ticks is not None and packet.time_base is not None else 0.0


def _mux_until(out, pending: list, packet) -> None:
    """Mux the audio packets due before `packet`, so the file is interleaved as it is written."""
    while pending and _seconds(pending[0]) <= _seconds(packet):
        out.mux(pending.pop(0))
