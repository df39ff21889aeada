"""The onset detector against ground truth of the world and against hand-made click trains."""

from __future__ import annotations

import numpy as np

from mfmjt_core.evaluation.metrics import OnsetScore, onset_score
from mfmjt_core.evaluation.onsets import (
    DONT_CARE_KINDS,
    ONSET_KINDS,
    detect_onsets,
    onset_strength,
    reference_onsets,
)

SR = 16_000


def click_train(times, duration=4.0, sr=SR) -> np.ndarray:
    """Short decaying noise bursts (a knock) at `times` in silence, fixed seed."""
    rng = np.random.default_rng(0)
    out = np.zeros(int(duration * sr), dtype=np.float32)
    n = int(0.03 * sr)
    burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.004 * sr))
    for t in times:
        i = int(round(t * sr))
        out[i:i + n] += 0.5 * burst[: out.size - i]
    return out


def test_reference_audio_of_test_clips_scores_high(test_clips):
    pooled = OnsetScore(0, 0, 0)
    for clip in test_clips:
        ref = reference_onsets(clip.events, ONSET_KINDS)
        pooled = pooled + onset_score(ref, detect_onsets(clip.audio, SR),
                                      dont_care=reference_onsets(clip.events, DONT_CARE_KINDS))
    assert pooled.n_reference > 30
    assert pooled.f1 > 0.9, (pooled.f1, pooled.precision, pooled.recall)
    assert pooled.median_abs_offset_ms < 10.0


def test_clicks_are_found_where_they_are():
    times = np.array([0.5, 1.0, 1.3, 2.2, 3.05])
    found = detect_onsets(click_train(times), SR)
    assert found.size == times.size
    np.testing.assert_allclose(found, times, atol=0.008)


def test_silence_and_steady_tone_have_no_onsets():
    assert detect_onsets(np.zeros(SR * 2, np.float32), SR).size == 0
    t = np.arange(SR * 3) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    tone[:800] *= np.linspace(0, 1, 800)  # one onset at the start, then nothing
    assert detect_onsets(tone, SR).size <= 1


def test_flux_is_zero_below_the_floor():
    quiet = (1e-5 * np.random.default_rng(1).standard_normal(SR)).astype(np.float32)
    assert float(onset_strength(quiet).max()) == 0.0


def test_reference_onsets_skip_first_frame_and_other_kinds(test_clips):
    for clip in test_clips:
        ref = reference_onsets(clip.events)
        expected = sorted({e.time_s for e in clip.events if e.kind in ONSET_KINDS and e.frame > 0})
        np.testing.assert_array_equal(ref, expected)
