"""AAC audio streams for MP4 output, shared by `write_video` and `mux_audio`."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from mfmjt_core.media.resample import resample

AAC_FRAME = 1024  # samples per AAC frame
# Rates the AAC bitstream can signal directly; anything else is resampled to 48 kHz.
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
_LAYOUTS = {1: "mono", 2: "stereo"}


def check_audio(audio: np.ndarray, sample_rate: int | None) -> np.ndarray:
    """`audio` as float32 (C, N) with 1 or 2 channels, or ValueError."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] not in _LAYOUTS:
        raise ValueError(f"audio must be (1 or 2 channels, samples), got shape {x.shape}")
    if sample_rate is None or int(sample_rate) <= 0:
        raise ValueError(f"audio needs a positive sample_rate, got {sample_rate}")
    if not np.isfinite(x).all():
        raise ValueError("audio contains NaN or infinite samples")
    return x


def add_aac_stream(out: av.container.OutputContainer, channels: int, rate: int):
    """A new AAC stream in `out` for `channels` channels at `rate` Hz."""
    stream = out.add_stream("aac", rate=rate)
    stream.layout = _LAYOUTS[channels]
    stream.bit_rate = 96_000 * channels
    return stream


def encode_aac(stream, audio: np.ndarray, sample_rate: int, rate: int) -> list:
    """All AAC packets of `audio` (C, N) float32, resampled from `sample_rate` to `rate`."""
    x = audio if int(sample_rate) == rate else resample(audio, int(sample_rate), rate)
    x = np.clip(x, -1.0, 1.0)
    layout = _LAYOUTS[x.shape[0]]
    packets = []
    for i in range(0, x.shape[1], AAC_FRAME):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x[:, i : i + AAC_FRAME]), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = i
        frame.time_base = Fraction(1, rate)
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


def packet_time(packet) -> float:
    """Decode time of a packet in seconds (for interleaving streams in the file)."""
    ticks = packet.dts if packet.dts is not None else packet.pts
    if ticks is None or packet.time_base is None:
        return 0.0
    return float(ticks * packet.time_base)


def output_rate(sample_rate: int) -> int:
    """The AAC rate to write audio of `sample_rate` Hz at."""
    return int(sample_rate) if int(sample_rate) in AAC_RATES else 48_000
