"""Reading, resampling and writing audio: sample-exact lengths and offsets, real resampling."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from mfmjt_core.media import (
    fit_length,
    mix_channels,
    read_audio,
    resample,
    write_audio,
    write_video,
)


def sweep(rate: int, seconds: float, f0: float, f1: float) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / seconds * t * t)
    return np.stack([0.5 * np.sin(phase), 0.25 * np.cos(phase)]).astype(np.float32)


def test_read_is_sample_exact_at_any_offset(tmp_path):
    rate = 44_100
    ramp = (np.arange(3 * rate, dtype=np.float32) / (4 * rate))[None]  # value encodes its index
    path = write_audio(tmp_path / "ramp.wav", ramp, rate)

    wave, sr = read_audio(path, start=0.25, end=1.75)
    assert sr == rate and wave.shape == (1, round(1.5 * rate))
    np.testing.assert_array_equal(wave[0, [0, -1]], ramp[0, [11025, 77174]])
    whole, _ = read_audio(path)
    np.testing.assert_array_equal(whole, ramp)
    tail, _ = read_audio(path, start=2.5, end=4.0)  # past the end: what exists, no padding
    assert tail.shape == (1, rate // 2)


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [("out.wav", "FLOAT", 0.0), ("out.wav", "PCM_24", 2**-22), ("out.flac", "PCM_24", 2**-22)],
)
def test_round_trip_file_read_resample_write_read(tmp_path, name, subtype, tolerance):
    source = sweep(44_100, 1.5, 50, 18_000)
    src = write_audio(tmp_path / "src.wav", source, 44_100)
    wave, sr = read_audio(src, start=0.5, end=1.5, sample_rate=48_000)
    assert sr == 48_000 and wave.shape == (2, 48_000)  # 1 s exactly, after resampling

    out = write_audio(tmp_path / name, wave, sr, subtype=subtype)
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.frames) == (48_000, 2, 48_000)
    assert info.subtype == subtype
    back, back_sr = read_audio(out)
    assert back_sr == 48_000 and back.shape == wave.shape
    np.testing.assert_allclose(back, wave, atol=tolerance)


def test_read_from_mp4_aac_with_resample_and_downmix(tmp_path):
    t = np.arange(2 * 48_000) / 48_000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)]) * 0.4
    frames = np.zeros((50, 16, 16, 3), np.uint8)
    audio = stereo.astype(np.float32)
    path = write_video(tmp_path / "av.mp4", frames, Fraction(25), audio=audio, sample_rate=48_000)
    wave, sr = read_audio(path, start=0.5, end=1.5, sample_rate=16_000, channels=1)
    assert sr == 16_000 and wave.shape == (1, 16_000)
    # AAC is lossy, but a 440 Hz tone keeps its level and phase within a few percent.
    ideal = 0.4 * np.sin(2 * np.pi * 440 * (0.5 + np.arange(16_000) / 16_000))
    assert np.sqrt(np.mean((wave[0] - ideal) ** 2)) < 0.02


def test_resampler_is_band_limited_and_accurate():
    rate_in, rate_out = 48_000, 16_000
    t = np.arange(rate_in) / rate_in
    tone = np.sin(2 * np.pi * 1000 * t)[None].astype(np.float32)
    alias = np.sin(2 * np.pi * 9000 * t)[None].astype(np.float32)  # above the new Nyquist

    y = resample(tone, rate_in, rate_out)
    assert y.shape == (1, 16_000) and y.dtype == np.float32
    ideal = np.sin(2 * np.pi * 1000 * np.arange(16_000) / rate_out)
    core = slice(200, -200)  # away from the zero-padded edges
    err_db = 10 * np.log10(np.mean((y[0, core] - ideal[core]) ** 2) / np.mean(ideal**2))
    assert err_db < -80
    leak = resample(alias, rate_in, rate_out)[0, core]
    assert 10 * np.log10(np.mean(leak**2) / 0.5) < -90  # a linear interpolator gives ~-10 dB


def test_resample_lengths_and_identity():
    x = np.random.default_rng(0).standard_normal((3, 1001)).astype(np.float32)
    assert resample(x, 44_100, 48_000).shape == (3, 1090)  # ceil(1001 * 480 / 441)
    assert resample(x, 48_000, 16_000).shape == (3, 334)
    np.testing.assert_array_equal(resample(x, 16_000, 16_000), x)
    assert resample(x[0], 16_000, 48_000).shape == (3003,)
    with pytest.raises(ValueError):
        resample(x, 0, 16_000)


def test_fit_length_trims_and_pads():
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_array_equal(fit_length(x, 3), x[:, :3])
    padded = fit_length(x, 7)
    assert padded.shape == (2, 7) and (padded[:, 5:] == 0).all()
    np.testing.assert_array_equal(padded[:, :5], x)


def test_mix_channels():
    stereo = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    np.testing.assert_allclose(mix_channels(stereo, 1), [[0.5, 0.5]])
    np.testing.assert_allclose(mix_channels(stereo[:1], 2), [[1.0, 0.0], [1.0, 0.0]])
    surround = np.eye(6, dtype=np.float32)  # one impulse per channel of 5.1
    names = ["FL", "FR", "FC", "LFE", "BL", "BR"]
    folded = mix_channels(surround, 2, names)
    scale = 1 / (1 + 2 * 0.7071)
    np.testing.assert_allclose(folded[0], np.array([1, 0, 0.7071, 0, 0.7071, 0]) * scale, atol=1e-6)
    np.testing.assert_allclose(folded[1], np.array([0, 1, 0.7071, 0, 0, 0.7071]) * scale, atol=1e-6)
    with pytest.raises(ValueError):
        mix_channels(surround, 4, names)


def test_pcm16_clips_instead_of_wrapping(tmp_path):
    loud = np.array([[1.5, -1.5, 0.5]], np.float32)
    path = write_audio(tmp_path / "loud.wav", loud, 8000, subtype="PCM_16")
    back, _ = read_audio(path)
    np.testing.assert_allclose(back, [[32767 / 32768, -1.0, 0.5]], atol=1e-6)


def test_write_audio_rejects_bad_requests(tmp_path):
    wave = np.zeros((1, 10), np.float32)
    with pytest.raises(ValueError, match="FLAC"):
        write_audio(tmp_path / "a.flac", wave, 16_000, subtype="FLOAT")
    with pytest.raises(ValueError, match=".wav or .flac"):
        write_audio(tmp_path / "a.mp3", wave, 16_000)
    with pytest.raises(ValueError, match="NaN"):
        write_audio(tmp_path / "a.wav", np.full((1, 4), np.nan, np.float32), 16_000)
    with pytest.raises(ValueError, match="channels, samples"):
        write_audio(tmp_path / "a.wav", np.zeros(10, np.float32), 16_000)
    assert list(tmp_path.iterdir()) == []
    assert sf.info(write_audio(tmp_path / "d.flac", wave, 16_000)).subtype == "PCM_24"
