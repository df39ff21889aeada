"""The training-free mel codec: layout, hand-computed values, round-trip quality, speed."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import pytest
import torch

from mfmjt_core.codec import AudioCodec
from mfmjt_core.codec.codec_measure import impact_noise_signal, log_spectral_distance
from mfmjt_core.codec.mel_codec import MelCodec, MelCodecConfig


@pytest.fixture(scope="module")
def codec() -> MelCodec:
    return MelCodec()


def test_interface_facts(codec):
    assert isinstance(codec, AudioCodec)
    assert codec.sample_rate == 16000 and codec.samples_per_latent == 512
    assert codec.latent_dim == 160 and codec.latent_rate == Fraction(125, 4)
    assert codec.num_latents(8) == 250


def test_stacking_layout(codec):
    wave = impact_noise_signal(0.5, 16000, torch.Generator().manual_seed(0))[None]
    latent = codec.encode(wave)
    cfg = codec.config
    frames = (codec.log_mel(torch.nn.functional.pad(wave, (0, 192))) - cfg.norm_mean) / cfg.norm_std
    assert latent.shape == (1, 16, 160)  # 8000 samples -> 16 latents of 2 frames x 80 mels
    # latent i holds frames 2i and 2i + 1, one after the other.
    torch.testing.assert_close(latent[0, 3, :80], frames[0, :, 6])
    torch.testing.assert_close(latent[0, 3, 80:], frames[0, :, 7])
    torch.testing.assert_close(
        codec.latent_to_log_mel(latent), frames * cfg.norm_std + cfg.norm_mean
    )


def test_silence_encodes_to_the_floor(codec):
    latent = codec.encode(torch.zeros(1, 1024))
    floor = (math.log(1e-5) - codec.config.norm_mean) / codec.config.norm_std
    torch.testing.assert_close(latent, torch.full((1, 2, 160), floor))
    assert codec.decode(latent).abs().max() < 1e-3


@pytest.mark.parametrize("n", [1, 511, 512, 1500])
def test_short_clips_round_trip(codec, n):
    wave = 0.1 * torch.randn(2, n, generator=torch.Generator().manual_seed(n))
    latent = codec.encode(wave)
    assert latent.shape == (2, math.ceil(n / 512), 160)
    assert codec.decode(latent).shape == (2, latent.shape[1] * 512)


def test_round_trip_quality(codec):
    wave = impact_noise_signal(4.0, 16000, torch.Generator().manual_seed(1))[None]
    latent = codec.encode(wave)
    out = codec.decode(latent)
    lsd = log_spectral_distance(wave[0], out[0])
    # Measured 5.7 dB (80 mels, 24 Griffin-Lim iterations); the bar leaves a margin.
    assert lsd < 6.5
    # Re-encoding the decoded audio lands close to the latent it came from (in nats of log-mel).
    err = (codec.encode(out) - latent).abs().mean().item() * codec.config.norm_std
    assert err < 0.15
    # The metric separates: unrelated noise of the same loudness is far worse.
    noise = torch.randn(wave.shape, generator=torch.Generator().manual_seed(2)) * wave.std()
    assert log_spectral_distance(wave[0], noise[0]) > lsd + 5


def test_a_loud_latent_decodes_without_flat_tops(codec):
    """A latent louder than full scale (what a one-step sample can be) comes back as Griffin-Lim
    makes it: the peaks keep their shape for the generator to turn down whole. A clamp here
    flattened them, and no later gain undoes that."""
    wave = impact_noise_signal(2.0, 16000, torch.Generator().manual_seed(3))[None]
    wave = wave / wave.abs().max()
    louder = codec.encode(wave) + 1.0 / codec.config.norm_std  # +1 nat of log-mel: x e in magnitude
    out = codec.decode(louder)[0]
    peak = out.abs().max()
    assert peak > 1.2
    assert int((out.abs() >= 0.999 * peak).sum()) <= 2  # a clamp leaves dozens of samples at 1.0


def test_the_log_mel_ceiling_caps_each_band_and_nothing_below_it():
    wave = impact_noise_signal(1.0, 16000, torch.Generator().manual_seed(4))[None]
    wave = wave / wave.abs().max()
    plain = MelCodec(MelCodecConfig(n_mels=32))
    latent = plain.encode(wave)
    log_mel = plain.latent_to_log_mel(latent)
    ceiling = tuple((log_mel[0].amax(dim=-1) - 0.5).tolist())  # half a nat below the loudest, per band
    capped = MelCodec(MelCodecConfig(n_mels=32, log_mel_ceiling=ceiling))
    expected = torch.minimum(log_mel, torch.tensor(ceiling)[:, None])
    torch.testing.assert_close(capped.decoded_log_mel(latent), expected, rtol=0, atol=0)
    assert not torch.equal(expected, log_mel)
    torch.testing.assert_close(plain.decoded_log_mel(latent), log_mel, rtol=0, atol=0)
    # (Griffin-Lim's phase search turns a rounding difference into a different waveform, so the
    # decoded audio is compared only where the cap changes nothing: exactly equal there.)
    quiet = latent - 1.0
    torch.testing.assert_close(capped.decode(quiet), plain.decode(quiet), rtol=0, atol=0)
    assert not torch.equal(capped.decode(latent), plain.decode(latent))
    with pytest.raises(ValueError, match="one value per band"):
        MelCodecConfig(n_mels=32, log_mel_ceiling=(0.0,) * 31)


def test_more_griffin_lim_iterations_do_not_hurt():
    wave = impact_noise_signal(2.0, 16000, torch.Generator().manual_seed(3))[None]
    lsds = []
    for iters in (2, 32):
        c = MelCodec(MelCodecConfig(griffin_lim_iters=iters))
        lsds.append(log_spectral_distance(wave[0], c.decode(c.encode(wave))[0]))
    assert lsds[1] < lsds[0]


def test_decodes_8_seconds_fast(codec):
    latent = codec.encode(impact_noise_signal(8.0, 16000, torch.Generator().manual_seed(4))[None])
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        codec.decode(latent)
        best = min(best, time.perf_counter() - start)
    # Target: well under 0.5 s on this 2-core CPU (~0.18 s CPU time); lenient for shared machines.
    assert best < 1.5
