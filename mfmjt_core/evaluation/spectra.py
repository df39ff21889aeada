"""Mel spectrograms in numpy for the evaluation: one small, fixed front-end for every metric.

Independent of the model's codec on purpose: the evaluation must not share the front-end of
the thing it measures. Frames are centred (frame k covers the time k * hop / sample_rate),
Hann window, power spectrum, triangular filters on the HTK mel scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class MelSpec:
    """STFT and mel settings."""

    sample_rate: int = 16_000
    n_fft: int = 512
    hop: int = 80  # 5 ms at 16 kHz: onset timing resolution well under the 50 ms tolerance
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 8_000.0

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filters(spec: MelSpec) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1), each with unit peak."""
    freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(spec.fmin), _hz_to_mel(spec.fmax), spec.n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    filters = np.clip(np.minimum(rising, falling), 0.0, None)
    filters.setflags(write=False)
    return filters


def stft_power(audio: np.ndarray, spec: MelSpec) -> np.ndarray:
    """Power spectrogram (frames, n_fft // 2 + 1) of a mono float signal, centred frames."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    pad = spec.n_fft // 2
    x = np.pad(x, (pad, pad))
    n_frames = 1 + (x.size - spec.n_fft) // spec.hop
    if n_frames < 1:
        return np.zeros((0, spec.n_fft // 2 + 1), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, spec.n_fft)[:: spec.hop][:n_frames]
    window = np.hanning(spec.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def mel_power(audio: np.ndarray, spec: MelSpec = MelSpec()) -> np.ndarray:
    """Mel power spectrogram (frames, n_mels)."""
    return stft_power(audio, spec) @ mel_filters(spec).T.astype(np.float32)


def log_mel_db(audio: np.ndarray, spec: MelSpec = MelSpec(), *, floor_db: float = -80.0) -> np.ndarray:
    """Mel spectrogram in dB (frames, n_mels), floored at the absolute level `floor_db`.

    0 dB is a full-scale sine's band power scale (power normalised by (n_fft / 4)^2); an absolute
    floor (not one relative to the loudest frame) keeps true silence at the same value in every
    clip, so distances do not depend on how loud a clip happens to be.
    """
    power = mel_power(audio, spec) / (spec.n_fft / 4) ** 2
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-20)), floor_db).astype(np.float32)
