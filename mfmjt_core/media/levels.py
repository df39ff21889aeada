"""Output levels an editor can use as they are: a true-peak ceiling and optional loudness.

True peak follows ITU-R BS.1770-4 Annex 2: the signal is oversampled (4x below 96 kHz, 2x below
192 kHz) so peaks between samples count, which a 16/24-bit export or a lossy encoder would clip.
Loudness is BS.1770 integrated loudness (K-weighted, gated) measured with pyloudnorm. Both
changes are one static gain per take: no limiter, so the sound's shape is never altered.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

DEFAULT_PEAK_CEILING_DBTP = -1.0  # EBU R128 / streaming delivery specs
_BLOCK = 4096  # samples per block the true-peak search may oversample
_MIN_LOUDNESS_S = 0.4  # one gating block: shorter audio has no integrated loudness


@dataclass(frozen=True)
class Levels:
    """What one take measures after the gain. None: not measurable (silence, under 0.4 s)."""

    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float  # applied: loudness normalisation and/or the ceiling's reduction

    def to_json(self) -> dict:
        r = lambda x: None if x is None else round(x, 2)
        return {"loudness_lufs": r(self.loudness_lufs), "true_peak_dbtp": r(self.true_peak_dbtp),
                "gain_db": round(self.gain_db, 2)}


def load() -> None:
    """Import the measuring libraries now (about 3 s on a slow CPU), so a daemon's first job
    does not pay for it."""
    import pyloudnorm  # noqa: F401
    import scipy.signal  # noqa: F401


def oversampling(sample_rate: int) -> int:
    return 4 if sample_rate < 96_000 else 2 if sample_rate < 192_000 else 1


@functools.lru_cache(maxsize=4)
def _interpolator(factor: int) -> np.ndarray:
    """Low-pass FIR for `factor`x oversampling: 12 taps per phase, as BS.1770-4 Annex 2's filter."""
    from scipy.signal import firwin

    return firwin(12 * factor + 1, 1.0 / factor) * factor


def true_peak(wave: np.ndarray, sample_rate: int) -> float:
    """Largest absolute value of `wave` (C, N) between and at the samples (linear, 1.0 = 0 dBFS).

    Exact for the interpolation filter, without oversampling everything: an interpolated value is
    a weighted sum of nearby samples, so a block whose largest neighbouring sample times the
    filter's largest phase gain cannot beat the peak found so far is skipped. Blocks are visited
    loudest first, so usually only a few are oversampled.
    """
    from scipy.signal import upfirdn

    x = np.asarray(wave, dtype=np.float64)
    x = x.reshape(1, -1) if x.ndim == 1 else x
    if x.size == 0:
        return 0.0
    magnitude = np.abs(x).max(axis=0)
    best = float(magnitude.max())
    factor = oversampling(sample_rate)
    if factor == 1 or best == 0.0:
        return best
    h = _interpolator(factor)
    phase_gain = max(float(np.abs(h[p::factor]).sum()) for p in range(factor))
    delay, reach = (len(h) - 1) // 2, len(h) // factor + 1  # output offset; input samples each side
    n = x.shape[-1]
    blocks = -(-n // _BLOCK)
    block_max = np.zeros(blocks + 2)
    block_max[1:-1] = np.maximum.reduceat(magnitude, np.arange(0, n, _BLOCK))
    near = np.maximum(np.maximum(block_max[:-2], block_max[1:-1]), block_max[2:])  # reach < _BLOCK
    for b in np.argsort(-near, kind="stable"):
        if near[b] * phase_gain <= best:
            break
        begin, end = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        lo, hi = max(0, begin - reach), min(n, end + reach)
        up = upfirdn(h, x[:, lo:hi], factor, 1, axis=-1)
        best = max(best, float(np.abs(up[:, (begin - lo) * factor + delay:(end - lo) * factor + delay]).max()))
    return best


def within_full_scale(wave: np.ndarray) -> np.ndarray:
    """`wave` turned down by one static gain until no sample exceeds full scale (never up).

    A decoder without a hard clip (Griffin-Lim) can overshoot; this keeps the shape where a clamp
    would flatten the peaks. Requests with a ceiling get it from `apply_levels` instead."""
    x = np.asarray(wave, dtype=np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    return x if peak <= 1.0 else (x * np.float32(1.0 / peak)).astype(np.float32)


def integrated_loudness(wave: np.ndarray, sample_rate: int) -> float | None:
    """BS.1770 integrated loudness of `wave` (C, N) in LUFS; None if too short or silent."""
    import pyloudnorm

    x = np.asarray(wave, dtype=np.float64)
    x = x.reshape(1, -1) if x.ndim == 1 else x
    if x.shape[-1] < math.ceil(_MIN_LOUDNESS_S * sample_rate) + 1:
        return None
    value = pyloudnorm.Meter(sample_rate).integrated_loudness(x.T)
    return float(value) if math.isfinite(value) else None


def to_db(linear: float) -> float | None:
    return 20.0 * math.log10(linear) if linear > 0 else None


def apply_levels(wave: np.ndarray, sample_rate: int, *, loudness: float | None = None,
                 peak_ceiling: float | None = DEFAULT_PEAK_CEILING_DBTP) -> tuple[np.ndarray, Levels]:
    """One take `wave` (C, N) float32 at `sample_rate`, turned to `loudness` LUFS (when given and
    measurable) and then down so its true peak is at most `peak_ceiling` dBTP (None: no ceiling).

    When the ceiling wins over the loudness target the take ends up quieter than asked; the
    returned Levels say what it measures.
    """
    x = np.asarray(wave, dtype=np.float32)
    measured = integrated_loudness(x, sample_rate)
    peak = true_peak(x, sample_rate)
    gain_db = 0.0
    if loudness is not None and measured is not None:
        gain_db = loudness - measured
    if peak_ceiling is not None and peak > 0:
        over = to_db(peak) + gain_db - peak_ceiling
        if over > 0:
            gain_db -= over
    if gain_db != 0.0:
        x = (x * np.float32(10 ** (gain_db / 20))).astype(np.float32)
    # a static gain shifts both measures by exactly that many dB (the gates are relative)
    after_peak = None if peak == 0 else to_db(peak) + gain_db
    after_loudness = None if measured is None else measured + gain_db
    return x, Levels(after_loudness, after_peak, gain_db)
