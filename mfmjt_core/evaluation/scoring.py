"""Scoring generated audio against a clip's ground truth, and pooling scores over clips.

Pooling: onset precision, recall and F1 are computed from matches pooled over all clips (a clip
with many events weighs more, and a clip with none still counts its false detections); the
median offset is over all matched pairs; material accuracy over all ground-truth impacts (and
split by whether the generated audio has an onset there, with the confusion of materials);
heard-material accuracy over clips with impacts; the log-mel distance is the mean over clips;
the Fréchet distance compares the embeddings of all windows of all generated clips with those
of the reference clips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mfmjt_core.evaluation.embedding import embed_db
from mfmjt_core.evaluation.material_classifier import MaterialClassifier, features_from_db, impacts_of
from mfmjt_core.evaluation.metrics import (
    ONSET_TOLERANCE_S,
    Gaussian,
    OnsetScore,
    fit_gaussian,
    frechet_distance,
    mel_l1_from_db,
    onset_score,
)
from mfmjt_core.evaluation.onsets import DONT_CARE_KINDS, ONSET_KINDS, detect_onsets_db, reference_onsets
from mfmjt_core.evaluation.spectra import MelSpec, log_mel_db

SAMPLE_RATE = 16_000
# One spectrogram per clip serves every metric; each applies its own (higher) floor to it.
_SPEC = MelSpec()
_FLOOR_DB = -100.0


def analysis_db(audio: np.ndarray) -> np.ndarray:
    """The clip's shared mel dB spectrogram (frames, 64), floored at -100 dB."""
    return log_mel_db(audio, _SPEC, floor_db=_FLOOR_DB)


@dataclass(frozen=True)
class ClipTruth:
    """What a clip's generated audio is scored against."""

    seed: int
    caption: str
    audio: np.ndarray  # reference audio, float32 (N,) at 16 kHz
    mel_db: np.ndarray  # `analysis_db` of the reference audio
    onsets: np.ndarray  # scored onset times (s)
    dont_care: np.ndarray  # onset times of don't-care kinds (s)
    impacts: tuple[tuple[float, str], ...]  # (time_s, material) of each impact
    events: tuple  # all ground-truth events (for the figure)

    @classmethod
    def of(cls, clip) -> ClipTruth:
        """From a `mfmjt_core.synth.Clip`."""
        audio = np.asarray(clip.audio, dtype=np.float32)
        return cls(clip.seed, clip.caption, audio, analysis_db(audio),
                   reference_onsets(clip.events, ONSET_KINDS), reference_onsets(clip.events, DONT_CARE_KINDS),
                   tuple(impacts_of(clip.events)), tuple(clip.events))


@dataclass(frozen=True)
class ImpactCall:
    """What the generated audio sounds like at one ground-truth impact."""

    material: str  # the impact's material
    heard: str  # the classifier's answer for the generated audio at the impact's time
    sounded: bool  # the generated audio has a detected onset within the matching tolerance


@dataclass(frozen=True)
class ClipScore:
    """Scores of one generated clip."""

    seed: int
    onset: OnsetScore
    material_correct: int
    material_total: int
    mel_l1_db: float
    embeddings: np.ndarray  # (windows, dim)
    heard_material: str | None = None  # the material the audio sounds like at its own onsets
    impact_materials: tuple[str, ...] = ()  # the materials of the clip's impacts (sorted)
    impact_calls: tuple[ImpactCall, ...] = ()  # one per ground-truth impact, in time order


def fit_length_1d(audio: np.ndarray, n: int) -> np.ndarray:
    """Mono audio trimmed or zero-padded to n samples."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    return x[:n] if x.size >= n else np.pad(x, (0, n - x.size))


def score_clip(audio: np.ndarray, truth: ClipTruth, classifier: MaterialClassifier) -> ClipScore:
    """Score generated mono 16 kHz audio of one clip (trimmed or padded to the reference)."""
    db = analysis_db(fit_length_1d(audio, truth.audio.size))
    detected = detect_onsets_db(db)
    onset = onset_score(truth.onsets, detected, dont_care=truth.dont_care)
    calls: tuple[ImpactCall, ...] = ()
    if truth.impacts:
        predicted = classifier.predict(features_from_db(db, [t for t, _ in truth.impacts]))
        calls = tuple(ImpactCall(m, p, _has_onset_near(detected, t)) for p, (t, m) in zip(predicted, truth.impacts))
    return ClipScore(truth.seed, onset, sum(c.heard == c.material for c in calls), len(truth.impacts),
                     mel_l1_from_db(db, truth.mel_db), embed_db(db),
                     heard_material(db, detected, classifier) if truth.impacts else None,
                     tuple(sorted({m for _, m in truth.impacts})), calls)


def _has_onset_near(onsets: np.ndarray, time_s: float) -> bool:
    return bool(onsets.size) and float(np.min(np.abs(onsets - time_s))) <= ONSET_TOLERANCE_S + 1e-9


def heard_material(db: np.ndarray, onsets: np.ndarray, classifier: MaterialClassifier) -> str | None:
    """The material audio sounds like: the classifier's most frequent answer at the audio's own
    detected onsets (ties: the first in the classifier's order); None without onsets.

    Material accuracy at the reference impact times asks for the right timbre at the right
    instant; a caption says nothing of when, so text-to-audio is judged by this instead."""
    if onsets.size == 0:
        return None
    predicted = list(classifier.predict(features_from_db(db, [float(t) for t in onsets])))
    return max(classifier.classes, key=predicted.count)


def heard_material_chance(scores: Sequence[ClipScore]) -> float:
    """`heard_material_accuracy` of the same audio against every other clip's materials (mean)."""
    n = sum(bool(s.impact_materials) for s in scores)
    if n < 2:
        return float("nan")
    return float(np.mean([heard_material_accuracy(scores, shift=k) for k in range(1, n)]))


def heard_material_accuracy(scores: Sequence[ClipScore], *, shift: int = 0) -> float:
    """Share of the clips with impacts whose heard material is one of their impacts' materials
    (audio without onsets counts as wrong). `shift` pairs each clip's audio with the truth of
    the clip `shift` places on: the chance level of the same audio."""
    scored = [s for s in scores if s.impact_materials]
    if not scored:
        return float("nan")
    hits = sum(a.heard_material in scored[(i + shift) % len(scored)].impact_materials
               for i, a in enumerate(scored))
    return hits / len(scored)


@dataclass(frozen=True)
class Summary:
    """Pooled scores of one run over all clips."""

    clips: int
    onset_f1: float
    onset_precision: float
    onset_recall: float
    median_offset_ms: float
    n_reference_onsets: int
    n_detected_onsets: int
    material_accuracy: float
    n_impacts: int
    mel_l1_db: float
    frechet: float
    heard_material_accuracy: float = float("nan")  # see `heard_material`, over clips with impacts
    heard_material_chance: float = float("nan")  # the same audio against another clip's materials
    # Material accuracy at the impacts where the generated audio has an onset, and where it has
    # none: tells a wrong timbre from a missed event.
    material_accuracy_sounded: float = float("nan")
    n_impacts_sounded: int = 0
    material_accuracy_unsounded: float = float("nan")
    # impact material -> {material heard there: count}
    material_confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


def reference_gaussian(truths: Sequence[ClipTruth]) -> Gaussian:
    """Gaussian fit of the embeddings of the reference audio of the clips."""
    return fit_gaussian(np.concatenate([embed_db(t.mel_db) for t in truths]))


def summarize(scores: Sequence[ClipScore], reference: Gaussian) -> Summary:
    """Pool clip scores (see the module docstring)."""
    if not scores:
        raise ValueError("nothing to summarise")
    pooled = OnsetScore(0, 0, 0)
    for s in scores:
        pooled = pooled + s.onset
    total = sum(s.material_total for s in scores)
    correct = sum(s.material_correct for s in scores)
    calls = [c for s in scores for c in s.impact_calls]
    sounded = [c for c in calls if c.sounded]
    unsounded = [c for c in calls if not c.sounded]
    generated = fit_gaussian(np.concatenate([s.embeddings for s in scores]))
    return Summary(
        clips=len(scores),
        onset_f1=pooled.f1,
        onset_precision=pooled.precision,
        onset_recall=pooled.recall,
        median_offset_ms=pooled.median_abs_offset_ms,
        n_reference_onsets=pooled.n_reference,
        n_detected_onsets=pooled.n_estimated,
        material_accuracy=correct / total if total else float("nan"),
        n_impacts=total,
        mel_l1_db=float(np.mean([s.mel_l1_db for s in scores])),
        frechet=frechet_distance(generated, reference),
        heard_material_accuracy=heard_material_accuracy(scores),
        heard_material_chance=heard_material_chance(scores),
        material_accuracy_sounded=_accuracy(sounded),
        n_impacts_sounded=len(sounded),
        material_accuracy_unsounded=_accuracy(unsounded),
        material_confusion=material_confusion(calls),
    )


def _accuracy(calls: Sequence[ImpactCall]) -> float:
    return sum(c.heard == c.material for c in calls) / len(calls) if calls else float("nan")


def material_confusion(calls: Sequence[ImpactCall]) -> dict[str, dict[str, int]]:
    """Impact material -> {material heard there: count}, both sorted by name."""
    out: dict[str, dict[str, int]] = {}
    for c in sorted(calls, key=lambda c: (c.material, c.heard)):
        row = out.setdefault(c.material, {})
        row[c.heard] = row.get(c.heard, 0) + 1
    return out
