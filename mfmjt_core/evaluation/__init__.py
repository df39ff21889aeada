"""Evaluation of generated audio on the synthetic world (`mfmjt eval synth`) and on a folder of
the user's own videos against their soundtracks (`mfmjt eval clips`: `clips`, `clips_report`).

Modules: `spectra` (the mel front-end every metric shares), `onsets` (onset detector),
`metrics` (onset matching/F1, log-mel distance, Fréchet distance), `materials` (impact-material
classifier), `embedding` (the fixed embedding behind the Fréchet distance), `scoring` (per-clip
scores and pooling), `grid` (the runs compared), `batched` (batched generation identical to
`Generator`), `references` (test clips, ceilings), `runner` (`run_eval`), `uncertainty`
(bootstrap intervals over clips), `report`, `figure` and `raster` (Markdown/JSON/PNG
output). Nothing here is imported by the generator.
"""

from mfmjt_core.evaluation.metrics import (
    OnsetScore,
    fit_gaussian,
    frechet_distance,
    log_mel_l1_db,
    match_onsets,
    onset_score,
)
from mfmjt_core.evaluation.onsets import DONT_CARE_KINDS, ONSET_KINDS, OnsetConfig, detect_onsets

__all__ = [
    "DONT_CARE_KINDS", "ONSET_KINDS", "OnsetConfig", "OnsetScore", "detect_onsets", "fit_gaussian",
    "frechet_distance", "log_mel_l1_db", "match_onsets", "onset_score",
]
