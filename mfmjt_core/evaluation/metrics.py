"""Per-clip metrics: onset matching and F1, onset offsets, spectral distance, Fréchet distance.

Onset matching: a reference onset and a detected one may pair when they are at most `tolerance`
apart; each onset pairs at most once. Among all such matchings we take one with the most pairs
and, among those, the smallest total offset. In one dimension an optimal matching never
crosses (if a < b are paired with d > c, swapping to a-c, b-d keeps both pairs within the
tolerance and does not increase the total offset), so dynamic programming over the two sorted
lists finds it exactly (the Hungarian method would too, at more cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfmjt_core.evaluation.spectra import MelSpec, log_mel_db

ONSET_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class OnsetScore:
    """Onset detection scores of one clip (or a pooled set of clips)."""

    n_reference: int
    n_estimated: int
    n_matched: int
    offsets_s: tuple[float, ...] = ()  # estimated - reference, of each matched pair

    @property
    def precision(self) -> float:
        if not self.n_estimated:
            return 1.0 if not self.n_reference else 0.0
        return self.n_matched / self.n_estimated

    @property
    def recall(self) -> float:
        if not self.n_reference:
            return 1.0 if not self.n_estimated else 0.0
        return self.n_matched / self.n_reference

    @property
    def f1(self) -> float:
        """2 matched / (reference + estimated); 1.0 when both are empty (nothing to find, nothing found)."""
        total = self.n_reference + self.n_estimated
        return 2.0 * self.n_matched / total if total else 1.0

    @property
    def median_abs_offset_ms(self) -> float:
        """Median |offset| of matched pairs in ms (NaN when nothing matched)."""
        return float(np.median(np.abs(self.offsets_s)) * 1000.0) if self.offsets_s else float("nan")

    def __add__(self, other: OnsetScore) -> OnsetScore:
        return OnsetScore(self.n_reference + other.n_reference, self.n_estimated + other.n_estimated,
                          self.n_matched + other.n_matched, self.offsets_s + other.offsets_s)


def match_onsets(reference: np.ndarray, estimated: np.ndarray,
                 tolerance: float = ONSET_TOLERANCE_S) -> list[tuple[int, int]]:
    """Optimal pairs (i_reference, j_estimated) of sorted onset lists (see the module docstring)."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    n, m = ref.size, est.size
    # best[i][j]: (pairs, -total offset) using ref[i:] and est[j:]; compared as tuples.
    best = [[(0, 0.0)] * (m + 1) for _ in range(n + 1)]
    move = [[0] * (m + 1) for _ in range(n + 1)]  # 0: skip ref, 1: skip est, 2: pair
    eps = 1e-9  # onsets exactly at the tolerance count as inside despite float rounding
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            options = [(best[i + 1][j], 0), (best[i][j + 1], 1)]
            d = abs(ref[i] - est[j])
            if d <= tolerance + eps:
                pairs, neg = best[i + 1][j + 1]
                options.append(((pairs + 1, neg - d), 2))
            best[i][j], move[i][j] = max(options, key=lambda o: o[0])
    pairs_out: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        step = move[i][j]
        if step == 2:
            pairs_out.append((i, j))
            i, j = i + 1, j + 1
        elif step == 0:
            i += 1
        else:
            j += 1
    return pairs_out


def drop_near(times: np.ndarray, anchors: np.ndarray, tolerance: float = ONSET_TOLERANCE_S) -> np.ndarray:
    """`times` without those within `tolerance` of any anchor (detections of don't-care events)."""
    times = np.asarray(times, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    if times.size == 0 or anchors.size == 0:
        return times
    near = (np.abs(times[:, None] - anchors[None, :]) <= tolerance + 1e-9).any(axis=1)
    return times[~near]


def onset_score(reference: np.ndarray, estimated: np.ndarray, tolerance: float = ONSET_TOLERANCE_S,
                *, dont_care: np.ndarray | None = None) -> OnsetScore:
    """Score detected onsets against reference onsets. Detections that match no reference onset
    but lie within `tolerance` of a `dont_care` time are left out instead of counted as false."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    pairs = match_onsets(ref, est, tolerance)
    if dont_care is not None and len(dont_care):
        matched = {j for _, j in pairs}
        unmatched = np.array([est[j] for j in range(est.size) if j not in matched])
        n_est = len(pairs) + drop_near(unmatched, dont_care, tolerance).size
    else:
        n_est = est.size
    offsets = tuple(float(est[j] - ref[i]) for i, j in pairs)
    return OnsetScore(ref.size, n_est, len(pairs), offsets)


def log_mel_l1_db(generated: np.ndarray, reference: np.ndarray, spec: MelSpec = MelSpec(), *,
                  floor_db: float = -80.0) -> float:
    """Mean absolute difference (dB) of the two log-mel spectrograms (same length required)."""
    return mel_l1_from_db(log_mel_db(generated, spec, floor_db=floor_db),
                          log_mel_db(reference, spec, floor_db=floor_db), floor_db=floor_db)


def mel_l1_from_db(generated_db: np.ndarray, reference_db: np.ndarray, *, floor_db: float = -80.0) -> float:
    """`log_mel_l1_db` from two dB spectrograms (floored here at `floor_db`)."""
    if generated_db.shape != reference_db.shape:
        raise ValueError(f"spectrogram shapes differ: {generated_db.shape} vs {reference_db.shape}")
    a, b = np.maximum(generated_db, floor_db), np.maximum(reference_db, floor_db)
    return float(np.abs(a - b).mean())


@dataclass(frozen=True)
class Gaussian:
    """Mean and covariance of a set of embeddings."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def fit_gaussian(embeddings: np.ndarray) -> Gaussian:
    """Maximum-likelihood-unbiased Gaussian fit of rows of `embeddings` (count, dim)."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least two embeddings (rows), got shape {x.shape}")
    return Gaussian(x.mean(axis=0), np.cov(x, rowvar=False), x.shape[0])


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: Gaussian, b: Gaussian) -> float:
    """Fréchet (2-Wasserstein squared) distance between two Gaussians:
    |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2).

    The matrix square root goes through symmetric eigendecompositions, which stay stable when
    a covariance is singular (fewer embeddings than dimensions)."""
    root_a = _psd_sqrt(a.cov)
    middle = root_a @ b.cov @ root_a
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    diff = a.mean - b.mean
    value = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * cross)
    return max(value, 0.0)
