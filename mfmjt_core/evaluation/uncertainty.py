"""How far a pooled score can move with the clips drawn: bootstrap intervals over clips.

The bars are judged on 160 test clips (32 until 2026-12-05: there one onset was about 0.005
of onset F1 and one impact 0.008 of material accuracy, and the next 128 clips read the shipped
model's material 0.06 lower). Resampling the clips (with replacement, the pooled counts
summed again) gives the spread a score would have on another draw of the world; resampling two
runs of the same clips with the same draw (paired) gives the spread of their difference and
ratio, which is far smaller than either run's own, since the clips' difficulty cancels.

Works on the per-clip rows of `results.json` (`per_clip`: matched, reference_onsets,
detected_onsets, material_correct, impacts), so finished evaluations can be compared later.
The Fréchet distance is fitted on all windows of a run at once and is not resampled here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Rows = Sequence[Mapping]

# name -> (numerator fields, denominator fields, numerator factor): pooled = factor*sum(num)/sum(den)
_POOLED = {
    "onset F1": (("matched",), ("reference_onsets", "detected_onsets"), 2.0),
    "material": (("material_correct",), ("impacts",), 1.0),
}
STATISTICS = tuple(_POOLED)


@dataclass(frozen=True)
class Interval:
    """A score and its bootstrap interval at `level` (percentile method)."""

    value: float
    low: float
    high: float
    level: float

    def format(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _counts(rows: Rows, statistic: str) -> tuple[np.ndarray, np.ndarray, float]:
    if statistic not in _POOLED:
        raise ValueError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")
    num_fields, den_fields, factor = _POOLED[statistic]
    try:
        num = np.array([sum(r[f] for f in num_fields) for r in rows], dtype=np.float64)
        den = np.array([sum(r[f] for f in den_fields) for r in rows], dtype=np.float64)
    except KeyError as e:
        raise ValueError(f"per-clip rows lack {e.args[0]!r}: not rows of `mfmjt eval synth`") from None
    return num, den, factor


def pooled(rows: Rows, statistic: str) -> float:
    """The pooled score of the rows, as the evaluation computes it (onset F1: 2 matched over
    reference + detected onsets; material: correct over impacts); NaN when undefined."""
    return _pooled(*_counts(rows, statistic))


def _pooled(num: np.ndarray, den: np.ndarray, factor: float) -> float:
    return factor * num.sum() / den.sum() if den.sum() else float("nan")


def _draws(n: int, rng: np.random.Generator, draws: int) -> np.ndarray:
    if n < 2:
        raise ValueError(f"a bootstrap needs at least 2 clips, got {n}")
    if draws < 100:
        raise ValueError(f"use at least 100 bootstrap draws, got {draws}")
    return rng.integers(0, n, size=(draws, n))


def _divide(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """top / bottom, NaN where bottom is not positive (a resample without onsets or impacts)."""
    positive = bottom > 0
    return np.where(positive, top / np.where(positive, bottom, 1.0), np.nan)


def _ratio_of_sums(num: np.ndarray, den: np.ndarray, factor: float, idx: np.ndarray) -> np.ndarray:
    return _divide(factor * num[idx].sum(axis=1), den[idx].sum(axis=1))


def _interval(value: float, samples: np.ndarray, level: float) -> Interval:
    samples = samples[np.isfinite(samples)]
    if not samples.size:
        return Interval(value, float("nan"), float("nan"), level)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return Interval(float(value), float(low), float(high), level)


def bootstrap(rows: Rows, statistic: str, rng: np.random.Generator, *, draws: int = 2000,
              level: float = 0.95) -> Interval:
    """The pooled `statistic` of `rows` with its interval over clips drawn with replacement."""
    num, den, factor = _counts(rows, statistic)
    idx = _draws(len(rows), rng, draws)
    return _interval(_pooled(num, den, factor), _ratio_of_sums(num, den, factor, idx), level)


@dataclass(frozen=True)
class Paired:
    """Run a against run b on the same clips: both scores, a - b and a / b with intervals."""

    statistic: str
    clips: int
    a: Interval
    b: Interval
    difference: Interval
    ratio: Interval
    a_above_b: float  # share of resamples where a scores higher than b


def paired(rows_a: Rows, rows_b: Rows, statistic: str, rng: np.random.Generator, *,
           draws: int = 2000, level: float = 0.95) -> Paired:
    """Paired bootstrap of two runs over the clips both scored (matched by seed): the same clips
    are drawn for both runs in every resample.

    Raises ValueError when the runs share fewer than 2 clips.
    """
    by_seed_b = {r["seed"]: r for r in rows_b}
    common_a = [r for r in rows_a if r["seed"] in by_seed_b]
    common_b = [by_seed_b[r["seed"]] for r in common_a]
    if len(common_a) < 2:
        raise ValueError(f"the runs share {len(common_a)} clip(s); a paired comparison needs the same clips")
    (na, da, fa), (nb, db, fb) = _counts(common_a, statistic), _counts(common_b, statistic)
    idx = _draws(len(common_a), rng, draws)
    sa, sb = _ratio_of_sums(na, da, fa, idx), _ratio_of_sums(nb, db, fb, idx)
    va, vb = _pooled(na, da, fa), _pooled(nb, db, fb)
    ratio_samples = _divide(sa, sb)
    both = np.isfinite(sa) & np.isfinite(sb)
    return Paired(
        statistic=statistic, clips=len(common_a),
        a=_interval(va, sa, level), b=_interval(vb, sb, level),
        difference=_interval(va - vb, sa - sb, level),
        ratio=_interval(va / vb if vb else float("nan"), ratio_samples, level),
        a_above_b=float((sa[both] > sb[both]).mean()) if both.any() else float("nan"),
    )


def paired_table(comparisons: Sequence[Paired], name_a: str, name_b: str) -> list[str]:
    """Markdown rows of paired comparisons of run a (`name_a`) against run b (`name_b`)."""
    if not comparisons:
        return []
    level = f"{comparisons[0].a.level:.0%}"
    lines = [f"| score ({level} interval over {comparisons[0].clips} clips) | a: {name_a} | b: {name_b} | "
             "a - b | a / b | resamples with a > b |",
             "|---|---|---|---|---|---|"]
    for c in comparisons:
        lines.append(f"| {c.statistic} | {c.a.format()} | {c.b.format()} | {c.difference.format()} | "
                     f"{c.ratio.format()} | {c.a_above_b:.0%} |")
    return lines
