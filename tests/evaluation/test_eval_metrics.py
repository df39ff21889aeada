"""Onset matching and F1, offsets, log-mel distance and Fréchet distance on hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_eval_onsets import SR, click_train

from mfmjt_core.evaluation.embedding import DIM, embed_audio
from mfmjt_core.evaluation.metrics import (
    Gaussian,
    fit_gaussian,
    frechet_distance,
    log_mel_l1_db,
    match_onsets,
    onset_score,
)
from mfmjt_core.evaluation.onsets import detect_onsets

TIMES = np.array([0.4, 0.9, 1.5, 2.1, 2.6, 3.3])


def test_click_train_shifted_20_ms_scores_perfectly_with_20_ms_offset():
    detected = detect_onsets(click_train(TIMES + 0.020), SR)
    s = onset_score(TIMES, detected)
    assert s.f1 == 1.0
    assert s.median_abs_offset_ms == pytest.approx(20.0, abs=3.0)
    exact = onset_score(TIMES, TIMES + 0.020)  # the lists themselves: exactly 20 ms
    assert exact.f1 == 1.0 and exact.median_abs_offset_ms == pytest.approx(20.0, abs=1e-9)


def test_click_train_shifted_80_ms_scores_zero():
    detected = detect_onsets(click_train(TIMES + 0.080), SR)
    assert detected.size == TIMES.size
    s = onset_score(TIMES, detected)
    assert s.f1 == 0.0 and s.n_matched == 0 and math.isnan(s.median_abs_offset_ms)


def test_empty_prediction_scores_zero_and_empty_both_scores_one():
    s = onset_score(TIMES, np.array([]))
    assert s.f1 == 0.0 and s.recall == 0.0
    assert onset_score(np.array([]), np.array([0.5])).f1 == 0.0
    assert onset_score(np.array([]), np.array([])).f1 == 1.0


def test_tolerance_edge_and_precision_recall():
    s = onset_score([1.0, 2.0, 3.0], [1.05, 2.0501, 2.99, 4.0])
    assert s.n_matched == 2  # 1.05 is exactly at the tolerance (kept), 2.0501 is past it
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 * 2 / 7)


def test_matching_is_one_to_one_and_optimal():
    # One detection between two onsets goes to the nearer one.
    assert match_onsets([0.0, 0.04], [0.03]) == [(1, 0)]
    # Greedy nearest-first would pair 0.05-0.06 and leave two unmatched; the optimum pairs both.
    assert match_onsets([0.05, 0.10], [0.01, 0.06]) == [(0, 0), (1, 1)]
    # Two detections near one onset: only one pairs.
    assert len(match_onsets([1.0], [0.99, 1.01])) == 1


def test_dont_care_detections_are_not_false_alarms():
    s = onset_score([1.0], [1.0, 2.01, 3.0], dont_care=np.array([2.0]))
    assert (s.n_matched, s.n_estimated) == (1, 2)  # 2.01 dropped; 3.0 still a false alarm


def test_pooling_adds_counts():
    a, b = onset_score([1.0], [1.01]), onset_score([1.0, 2.0], [])
    pooled = a + b
    assert (pooled.n_reference, pooled.n_estimated, pooled.n_matched) == (3, 1, 1)
    assert pooled.f1 == pytest.approx(0.5)


def test_log_mel_l1():
    x = click_train(TIMES)
    assert log_mel_l1_db(x, x) == 0.0
    # A 20 dB quieter copy differs by 20 dB wherever both stay above the -80 dB floor.
    d = log_mel_l1_db(0.1 * x, x)
    assert 0.5 < d < 20.0
    with pytest.raises(ValueError):
        log_mel_l1_db(x[:-4000], x)


def test_frechet_of_a_set_with_itself_is_zero_and_grows_with_shift():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    g = fit_gaussian(x)
    assert frechet_distance(g, g) == pytest.approx(0.0, abs=1e-6)
    previous = 0.0
    for shift in (0.5, 1.0, 2.0):
        d = frechet_distance(g, fit_gaussian(x + shift))
        assert d == pytest.approx(6 * shift**2, rel=1e-6)  # a pure shift adds |mu_a - mu_b|^2
        assert d > previous
        previous = d


def test_frechet_matches_the_closed_form_for_diagonal_covariances():
    a = Gaussian(np.array([0.0, 1.0]), np.diag([1.0, 4.0]), 10)
    b = Gaussian(np.array([1.0, 1.0]), np.diag([9.0, 1.0]), 10)
    # |dmu|^2 + sum (sigma_a - sigma_b)^2 = 1 + (1-3)^2 + (2-1)^2
    assert frechet_distance(a, b) == pytest.approx(6.0, abs=1e-9)


def test_frechet_with_singular_covariances_is_finite():
    rng = np.random.default_rng(1)
    a, b = fit_gaussian(rng.standard_normal((5, 20))), fit_gaussian(rng.standard_normal((5, 20)) + 1)
    assert np.isfinite(frechet_distance(a, b)) and frechet_distance(a, b) > 0


def test_embedding_is_fixed_and_shaped(test_clips):
    audio = test_clips[0].audio
    e = embed_audio(audio)
    assert e.shape == (15, DIM)  # 8 s: 1 s windows every 0.5 s
    np.testing.assert_array_equal(e, embed_audio(audio.copy()))
    silent = embed_audio(np.zeros_like(audio))
    assert np.all(silent[:, :32] == -80.0) and np.all(silent[:, 32:] == 0.0)


def test_temporal_blur_lowers_onset_f1_and_raises_frechet(test_clips):
    """The distance is meant to expose blurred (conditional-mean-like) audio."""
    from mfmjt_core.evaluation.material_classifier import fit_classifier
    from mfmjt_core.evaluation.scoring import ClipTruth, reference_gaussian, score_clip, summarize

    truths = [ClipTruth.of(c) for c in test_clips]
    reference = reference_gaussian(truths)
    rng = np.random.default_rng(0)
    dummy = fit_classifier(rng.standard_normal((8, 49)), ["a", "b"] * 4)

    def smeared(x: np.ndarray, ms: int) -> np.ndarray:
        n = ms * 16
        kernel = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 3))
        return np.convolve(x, kernel / np.sqrt((kernel**2).sum()))[: x.size].astype(np.float32)

    results = [summarize([score_clip(smeared(t.audio, ms) if ms else t.audio, t, dummy) for t in truths],
                         reference) for ms in (0, 30, 300)]
    assert results[0].frechet == pytest.approx(0.0, abs=1e-6) and results[0].mel_l1_db == 0.0
    assert results[0].frechet < results[1].frechet < results[2].frechet
    assert results[0].onset_f1 > results[2].onset_f1
    assert results[1].mel_l1_db < results[2].mel_l1_db
