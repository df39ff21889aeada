"""Onset agreement of generated takes with a synthetic clip's ground truth, for the sync test.

Run in the main venv (numpy, the evaluation's onset detector):
    python sync_measure.py SPEC.json
SPEC: {"tolerance_s": 0.1, "spans": [{"sidecar": clip.json, "start": s, "end": s,
        "takes": {"blender": [wav, ...], "generate": [wav, ...]}}, ...]}
Prints JSON per source: events (ground-truth onsets in the spans, counted once per take), hits
(events with a detected onset of the take within the tolerance), detections, matched pairs and
the pooled onset F1 (detections near a slide's or a hum's start are neither hits nor false).
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np

from mfmjt_core.evaluation.metrics import OnsetScore, onset_score
from mfmjt_core.evaluation.onsets import DEFAULT_ONSETS, DONT_CARE_KINDS, detect_onsets, reference_onsets
from mfmjt_core.media import read_audio
from mfmjt_core.synth.export import read_sidecar


def _span_onsets(sidecar: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    events = [SimpleNamespace(**e) for e in read_sidecar(sidecar)["events"]]
    ref = reference_onsets(events)
    care_not = reference_onsets(events, kinds=DONT_CARE_KINDS)
    inside = lambda t: t[(t >= start) & (t < end)] - start
    return inside(ref), inside(care_not)


def measure(spec: dict) -> dict:
    tol = spec.get("tolerance_s", 0.1)
    pooled: dict[str, OnsetScore] = {}
    hits: dict[str, int] = {}
    for span in spec["spans"]:
        ref, dont_care = _span_onsets(span["sidecar"], span["start"], span["end"])
        for source, wavs in span["takes"].items():
            for wav in wavs:
                audio, rate = read_audio(wav, channels=1, sample_rate=DEFAULT_ONSETS.mel.sample_rate)
                est = detect_onsets(np.asarray(audio[0], dtype=np.float32), rate)
                score = onset_score(ref, est, tol, dont_care=dont_care)
                pooled[source] = pooled.get(source, OnsetScore(0, 0, 0)) + score
                hits[source] = hits.get(source, 0) + int(sum(bool(np.any(np.abs(est - t) <= tol)) for t in ref))
    return {source: {"events": score.n_reference, "hits": hits[source], "detections": score.n_estimated,
                     "matched": score.n_matched, "f1": round(score.f1, 3),
                     "median_abs_offset_ms": round(score.median_abs_offset_ms, 1)}
            for source, score in pooled.items()}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(json.dumps(measure(json.load(f))))
