"""Material of each impact, told from the audio just after it: features and a small classifier.

Features of an impact at time t (from the evaluation's 64-band mel spectrogram, dB floored at
-80 dB), 49 numbers in all:
- spectral shape: the mean dB of each pair of adjacent bands (32 values) over the head
  [t - 5 ms, t + 80 ms], minus their mean (where the hit's energy lies, whatever its level);
- decay: per group of 8 bands, the mean dB of [t + 40, t + 120 ms] and of [t + 120, t + 240 ms]
  minus that of the head (16 values: metal rings on, rubber is gone, glass rings high);
- level: the mean dB of the head (a soft rubber thud is quieter than a glass ring).
The head starts 5 ms before t, so a generated hit a little early still falls inside.

Classifier: linear discriminant analysis with a shrunk pooled covariance (class means, one
shared covariance, `shrinkage` of it replaced by its average variance), fitted on
reference audio of train-split clips only (never test clips). Only events of kind "impact"
count (a collision rings two materials at once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfmjt_core.evaluation.spectra import MelSpec, log_mel_db

MEL = MelSpec()
FLOOR_DB = -80.0
N_FEATURES = 49
_HEAD, _MID, _TAIL = (-0.005, 0.08), (0.04, 0.12), (0.12, 0.24)


def impact_features(db: np.ndarray, time_s: float, frame_rate: float = MEL.frame_rate) -> np.ndarray:
    """Feature vector (49,) of the impact at `time_s` in a mel dB spectrogram (frames, 64)
    floored at FLOOR_DB (see `features_from_db`)."""
    def span(a: float, b: float) -> np.ndarray:
        lo = min(max(0, int(round((time_s + a) * frame_rate))), db.shape[0] - 1)
        hi = max(lo + 1, min(db.shape[0], int(round((time_s + b) * frame_rate))))
        return db[lo:hi].mean(axis=0)

    head, mid, tail = span(*_HEAD), span(*_MID), span(*_TAIL)
    shape = head.reshape(-1, 2).mean(axis=1)
    groups = 8
    return np.concatenate([
        shape - shape.mean(),
        (mid - head).reshape(groups, -1).mean(axis=1),
        (tail - head).reshape(groups, -1).mean(axis=1),
        [head.mean()],
    ]).astype(np.float64)


def clip_impact_features(audio: np.ndarray, impacts: Iterable[float]) -> np.ndarray:
    """Features (n_impacts, 49) of the impacts at the given times in one waveform (16 kHz)."""
    times = list(impacts)
    if not times:
        return np.zeros((0, N_FEATURES))
    return features_from_db(log_mel_db(audio, MEL, floor_db=FLOOR_DB), times)


def features_from_db(db: np.ndarray, impacts: Iterable[float]) -> np.ndarray:
    """`clip_impact_features` from a mel dB spectrogram of `MEL` with a floor at or below
    FLOOR_DB (the features' own floor is applied here)."""
    times = list(impacts)
    if not times:
        return np.zeros((0, N_FEATURES))
    db = np.maximum(db, FLOOR_DB)
    return np.stack([impact_features(db, t) for t in times])


def impacts_of(events) -> list[tuple[float, str]]:
    """(time_s, material) of the clip's events of kind "impact"."""
    return [(float(e.time_s), e.material) for e in events if e.kind == "impact"]


@dataclass(frozen=True)
class MaterialClassifier:
    """Linear discriminant classifier over impact features."""

    classes: tuple[str, ...]
    means: np.ndarray  # (classes, features)
    precision: np.ndarray  # inverse of the shrunk pooled covariance (features, features)
    log_priors: np.ndarray  # (classes,)
    info: dict  # how it was fitted (split, clips, impacts, shrinkage)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Discriminant score of each class (n, classes); larger is more likely."""
        x = np.atleast_2d(features)
        w = self.means @ self.precision  # (classes, features)
        bias = -0.5 * np.einsum("cf,cf->c", w, self.means) + self.log_priors
        return x @ w.T + bias

    def predict(self, features: np.ndarray) -> list[str]:
        """Most likely material of each row of `features`."""
        if len(features) == 0:
            return []
        return [self.classes[k] for k in self.scores(features).argmax(axis=1)]

    def to_json(self) -> dict:
        return {"classes": list(self.classes), "means": self.means.tolist(),
                "precision": self.precision.tolist(), "log_priors": self.log_priors.tolist(),
                "info": self.info}

    @classmethod
    def from_json(cls, data: dict) -> MaterialClassifier:
        return cls(tuple(data["classes"]), np.array(data["means"]), np.array(data["precision"]),
                   np.array(data["log_priors"]), dict(data["info"]))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> MaterialClassifier:
        return cls.from_json(json.loads(Path(path).read_text()))


def fit_classifier(features: np.ndarray, labels: list[str], *, shrinkage: float = 0.1,
                   info: dict | None = None) -> MaterialClassifier:
    """Fit the linear discriminant to labelled impact features."""
    x = np.asarray(features, dtype=np.float64)
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2 or x.shape[0] != len(labels):
        raise ValueError("need features for at least two materials, one label per row")
    y = np.array([classes.index(label) for label in labels])
    means = np.stack([x[y == k].mean(axis=0) for k in range(len(classes))])
    centred = x - means[y]
    cov = centred.T @ centred / max(1, x.shape[0] - len(classes))
    target = np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
    cov = (1 - shrinkage) * cov + shrinkage * target
    priors = np.bincount(y, minlength=len(classes)) / y.size
    record = {"impacts": int(y.size), "shrinkage": shrinkage, **(info or {})}
    return MaterialClassifier(classes, means, np.linalg.inv(cov), np.log(priors), record)


def fit_on_world(n_clips: int = 600, *, split: str = "train", config=None) -> MaterialClassifier:
    """Fit on the reference audio of the first `n_clips` clips of `split` (train by default)."""
    from mfmjt_core.synth import DEFAULT, make_clip, split_seeds

    if split == "test":
        raise ValueError("the material classifier must not be fitted on test clips")
    rows, labels = [], []
    for seed in split_seeds(split, n_clips):
        clip = make_clip(seed, config=config or DEFAULT, with_frames=False)
        impacts = impacts_of(clip.events)
        if impacts:
            rows.append(clip_impact_features(clip.audio, [t for t, _ in impacts]))
            labels += [m for _, m in impacts]
    return fit_classifier(np.concatenate(rows), labels, info={"split": split, "clips": n_clips})
