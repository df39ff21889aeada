"""Mel front-end: golden outputs of MMAudio's converter, the Slaney basis, config checks."""

from __future__ import annotations

import math

import pytest
import torch
import torchaudio

from mfmjt_core.codec.mel import (
    MEL_16K,
    MEL_44K,
    MelConfig,
    MelFrontend,
    _hz_to_slaney_mel,
    slaney_mel_basis,
)


@pytest.mark.parametrize("case, config", [("16k", MEL_16K), ("44k", MEL_44K)])
def test_matches_golden(load_golden, case, config):
    golden = load_golden("mel_frontend.pt")["cases"][case]
    assert golden["sample_rate"] == config.sample_rate
    mel = MelFrontend(config)(golden["waveform"])
    assert mel.shape == golden["mel"].shape
    assert mel.shape[-1] == golden["waveform"].shape[-1] // config.hop
    # Equal up to float32 rounding: 8 units in the last place of the largest value. Measured max
    # abs error 1.2e-7 (16k) and 2.4e-7 (44k) on an AVX2 CPU, 4.8e-7 and 1.9e-6 (about 4 units)
    # on an AVX-512 one, whose kernels sum in another order (scripts/golden_errors.py).
    atol = 8 * torch.finfo(torch.float32).eps * float(golden["mel"].abs().max())
    torch.testing.assert_close(mel, golden["mel"], rtol=0, atol=atol)


def test_presets_are_mmaudio_settings():
    assert (MEL_16K.n_fft, MEL_16K.hop, MEL_16K.win, MEL_16K.n_mels) == (1024, 256, 1024, 80)
    assert (MEL_16K.fmax, MEL_16K.log_base) == (8000.0, "log10")
    assert (MEL_44K.n_fft, MEL_44K.hop, MEL_44K.win, MEL_44K.n_mels) == (2048, 512, 2048, 128)
    assert (MEL_44K.fmax, MEL_44K.log_base) == (22050.0, "ln")
    assert MEL_16K.pad == 384 and MEL_44K.pad == 768


@pytest.mark.parametrize("config", [MEL_16K, MEL_44K])
def test_basis_agrees_with_torchaudio(config):
    # Pins the choice: our float64 basis (closer to the golden) and torchaudio's Slaney basis agree.
    ours = slaney_mel_basis(config)
    theirs = torchaudio.functional.melscale_fbanks(
        config.n_freqs,
        config.fmin,
        config.fmax,
        config.n_mels,
        config.sample_rate,
        norm="slaney",
        mel_scale="slaney",
    ).T
    assert ours.shape == (config.n_mels, config.n_freqs)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


def test_slaney_scale_hand_values():
    hz = torch.tensor([0.0, 200.0, 1000.0, 6400.0], dtype=torch.float64)
    # Linear 3 mel / 200 Hz up to 1 kHz (15 mel), then 27 mel per factor 6.4.
    torch.testing.assert_close(
        _hz_to_slaney_mel(hz), torch.tensor([0.0, 3.0, 15.0, 42.0], dtype=torch.float64)
    )


def test_basis_triangles_have_unit_area():
    # Slaney normalisation: a triangle of base (f[i+2] - f[i]) and height 2 / base has area 1,
    # so summing a band's weights times the bin spacing gives ~1 for bands wide against a bin.
    basis = slaney_mel_basis(MEL_16K).double()
    spacing = MEL_16K.sample_rate / MEL_16K.n_fft
    areas = basis.sum(dim=1) * spacing
    assert torch.allclose(areas[40:], torch.ones_like(areas[40:]), atol=0.02)


def test_sine_peaks_in_its_band():
    cfg = MEL_16K
    t = torch.arange(16000) / cfg.sample_rate
    mel = MelFrontend(cfg)((0.5 * torch.sin(2 * math.pi * 2000.0 * t))[None])
    peak_band = mel[0, :, 10].argmax().item()
    centres = torch.linspace(
        _hz_to_slaney_mel(torch.tensor(0.0)),
        _hz_to_slaney_mel(torch.tensor(8000.0)),
        cfg.n_mels + 2,
    )
    expected = (centres[1:-1] - _hz_to_slaney_mel(torch.tensor(2000.0))).abs().argmin().item()
    assert abs(peak_band - expected) <= 1


def test_rejects_bad_config_and_input():
    with pytest.raises(ValueError):
        MelConfig(16000, 1024, 256, 1024, 80, 0.0, 8000.0, "log2")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MelConfig(16000, 1024, 256, 1024, 80, 0.0, 9000.0, "ln")
    with pytest.raises(ValueError):
        MelFrontend(MEL_16K)(torch.zeros(1, 300))
    with pytest.raises(ValueError):
        MelFrontend(MEL_16K)(torch.zeros(1000))
