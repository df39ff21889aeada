"""Output levels: a true-peak ceiling (oversampled, so peaks between samples count) and
optional BS.1770 loudness, as one static gain; the pipeline applies them and reports them."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from mfmjt_core.media.levels import apply_levels, integrated_loudness, true_peak, within_full_scale

RATE = 48_000
CEILING = 10 ** (-1 / 20)  # -1 dBTP


def _intersample_sine(seconds: float = 3.0, amplitude: float = 1.0) -> np.ndarray:
    # a quarter of the rate at 45 degrees: every sample sits at 0.707 of the wave's real peak
    t = np.arange(round(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * RATE / 4 * t + np.pi / 4)).astype(np.float32)[None]


def test_true_peak_sees_between_the_samples():
    x = _intersample_sine()
    assert np.abs(x).max() == pytest.approx(0.7071, abs=1e-3)
    assert true_peak(x, RATE) == pytest.approx(1.0, abs=0.03)


def test_the_ceiling_turns_a_clipping_take_down_to_minus_1_dbtp():
    x = _intersample_sine(amplitude=1.4)  # the peaks of 1.07-1.42
    y, levels = apply_levels(x, RATE)
    assert true_peak(y, RATE) <= CEILING * 1.0001 and np.abs(y).max() < CEILING
    assert levels.true_peak_dbtp == pytest.approx(-1.0, abs=1e-3) and levels.gain_db < 0
    np.testing.assert_allclose(y, x * 10 ** (levels.gain_db / 20), rtol=1e-6)  # one static gain


def test_a_quiet_take_is_left_alone_without_a_loudness_target():
    x = _intersample_sine(amplitude=0.1)
    y, levels = apply_levels(x, RATE)
    assert levels.gain_db == 0.0 and np.array_equal(y, x)


def test_loudness_normalisation_hits_the_target():
    rng = np.random.default_rng(0)
    x = (0.02 * rng.standard_normal((2, RATE * 5))).astype(np.float32)
    y, levels = apply_levels(x, RATE, loudness=-23.0)
    measured = pyloudnorm.Meter(RATE).integrated_loudness(y.T.astype(np.float64))  # independent measure
    assert measured == pytest.approx(-23.0, abs=0.05) and levels.loudness_lufs == pytest.approx(-23.0, abs=0.05)


def test_the_ceiling_wins_over_a_too_loud_target():
    x = _intersample_sine(amplitude=0.1)
    y, levels = apply_levels(x, RATE, loudness=0.0)
    assert true_peak(y, RATE) <= CEILING * 1.0001
    assert levels.loudness_lufs < -0.5  # quieter than the 0 LUFS asked: the report says so


def test_silence_and_short_takes():
    silent, levels = apply_levels(np.zeros((1, RATE), np.float32), RATE, loudness=-23.0)
    assert levels.loudness_lufs is None and levels.true_peak_dbtp is None and not silent.any()
    short = _intersample_sine(seconds=0.2, amplitude=1.3)
    y, levels = apply_levels(short, RATE, loudness=-23.0)
    assert integrated_loudness(y, RATE) is None and levels.loudness_lufs is None
    assert true_peak(y, RATE) <= CEILING * 1.0001  # the ceiling still applies


def test_the_generator_delivers_under_the_ceiling_and_reports_it():
    from mfmjt_core.pipeline.generator import Generator

    generator = Generator.load("tiny-random")
    request = {"prompt": "rain", "duration": 2.0, "seed": 5, "variations": 2, "channels": 2}
    raw = generator.generate(**request, peak_ceiling=None)  # what the evaluation scores
    safe = generator.generate(**request, loudness=-20.0)
    assert raw.levels == () and len(safe.levels) == 2
    for take, level in zip(safe.audio, safe.levels):
        assert true_peak(take, RATE) <= CEILING * 1.0001
        assert level.to_json()["true_peak_dbtp"] <= -1.0
        assert level.loudness_lufs is None or level.loudness_lufs <= -20.0 + 0.01
    for raw_take, take in zip(raw.audio, safe.audio):  # each one static gain of the decoder's take
        assert float(np.abs(raw_take).max()) <= 1.0  # the raw take too: within full scale
        np.testing.assert_allclose(take / np.abs(take).max(), raw_take / np.abs(raw_take).max(), rtol=1e-5, atol=1e-6)


def test_within_full_scale_turns_only_an_overshooting_take_down():
    loud = _intersample_sine(seconds=0.5, amplitude=1.0) * np.float32(1.7)
    safe = within_full_scale(loud)
    assert float(np.abs(safe).max()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(safe * np.abs(loud).max(), loud, rtol=1e-5, atol=1e-6)  # one gain, same shape
    quiet = loud * np.float32(0.5)
    assert within_full_scale(quiet) is not None and np.array_equal(within_full_scale(quiet), quiet)
    assert within_full_scale(np.zeros((2, 0), np.float32)).shape == (2, 0)


def test_the_evaluation_scores_raw_output(tmp_path):
    from mfmjt_core.evaluation.batched import ClipInput
    from mfmjt_core.evaluation.grid import RunConfig
    from mfmjt_core.evaluation.runner import _request

    for modality in ("video", "text"):
        kwargs = _request(ClipInput(1, tmp_path / "clip.mp4", "rain", 2.0), RunConfig("mf", 1, "off", modality), 1.0)
        assert kwargs["peak_ceiling"] is None and "loudness" not in kwargs


@pytest.mark.parametrize("rate", [16_000, 48_000, 96_000])
def test_the_pruned_search_equals_oversampling_everything(rate):
    from scipy.signal import upfirdn

    from mfmjt_core.media.levels import _interpolator, oversampling

    rng = np.random.default_rng(rate)
    x = 0.05 * rng.standard_normal((2, rate * 3))
    x[1, rate + 17] = 0.9  # a click: the peak lies in one block
    x[0, 2 * rate: 2 * rate + 4] = [0.7, -0.7, 0.7, -0.7]  # near Nyquist: overshoots between samples
    full = np.abs(upfirdn(_interpolator(oversampling(rate)), x, oversampling(rate), 1, axis=-1)).max()
    assert true_peak(x.astype(np.float32), rate) == pytest.approx(full, rel=1e-6)
