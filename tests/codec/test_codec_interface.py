"""The codec interface: MMAudio codec (tiny weights from the goldens) round trip, sequence facts."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from mfmjt_core.codec import AudioCodec
from mfmjt_core.codec.bigvgan import BigVGANConfig, BigVGANGenerator
from mfmjt_core.codec.mel import MEL_16K, MelFrontend
from mfmjt_core.codec.mmaudio_codec import MMAudioCodec
from mfmjt_core.codec.vae import MelVAE, VAEConfig
from mfmjt_core.errors import WeightsError


@pytest.fixture(scope="module")
def tiny_16k(load_golden) -> tuple[MMAudioCodec, dict, dict]:
    vae_golden = load_golden("vae_tiny_80.pt")
    voc_golden = load_golden("bigvgan_v1_tiny.pt")
    codec = MMAudioCodec.from_state_dicts(
        vae_golden["state_dict_as_saved"],
        {"generator": voc_golden["generator_state_dict_as_saved"]},
        "16k",
        vae_config=VAEConfig(**vae_golden["config"]),
        vocoder_config=voc_golden["config"],  # a raw config dict, as read from a file
    )
    return codec, vae_golden, voc_golden


def wave(n: int, seed: int = 0, batch: int = 2) -> torch.Tensor:
    return 0.3 * torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))


def test_sequence_facts_16k(tiny_16k):
    codec, _, _ = tiny_16k
    assert isinstance(codec, AudioCodec)
    assert codec.sample_rate == 16000 and codec.latent_dim == 20 and codec.samples_per_latent == 512
    assert codec.latent_rate == Fraction(125, 4)  # 31.25 latents per second
    assert codec.num_latents(8.0) == 250 and codec.num_samples(250) == 128000
    assert codec.num_latents(Fraction(1, 10)) == codec.num_latents(0.1) == 4  # 1600 / 512 -> 4
    assert codec.num_latents(0.032) == 1  # exactly 512 samples: no spurious extra latent


def test_sequence_facts_44k():
    tiny_vae = VAEConfig(data_dim=128, embed_dim=40, hidden_dim=8)
    tiny_voc = BigVGANConfig(
        128,
        (8, 4, 2, 2, 2, 2),
        (16, 8, 4, 4, 4, 4),
        64,
        (3,),
        ((1,),),
        use_tanh_at_final=False,
        use_bias_at_final=False,
        sampling_rate=44100,
    )
    codec = MMAudioCodec.random(
        "44k", torch.Generator().manual_seed(0), vae_config=tiny_vae, vocoder_config=tiny_voc
    )
    assert codec.num_latents(8.0) == 345 and codec.num_samples(345) == 353280
    assert codec.latent_rate == Fraction(44100, 1024)
    latent = codec.encode(wave(3000, batch=1))
    assert latent.shape == (1, 3, 40)
    assert codec.decode(latent).shape == (1, 3 * 1024)


@pytest.mark.parametrize("n", [512, 16000, 16001, 700])
def test_round_trip_shapes(tiny_16k, n):
    codec, _, _ = tiny_16k
    latent = codec.encode(wave(n))
    expected = codec.num_latents(Fraction(n, 16000))
    assert latent.shape == (2, expected, 20)
    audio = codec.decode(latent)
    assert audio.shape == (2, codec.num_samples(expected)) and audio.shape[-1] >= n
    assert bool(audio.abs().max() <= 1.0)


def test_encode_is_mel_then_vae_mean_time_major(tiny_16k):
    codec, vae_golden, _ = tiny_16k
    x = wave(4096)
    mel = MelFrontend(MEL_16K)(x)
    vae = MelVAE.from_state_dict(
        vae_golden["state_dict_as_saved"], VAEConfig(**vae_golden["config"])
    )
    with torch.no_grad():
        mean, std = vae.encode(mel)
    torch.testing.assert_close(codec.encode(x), mean.transpose(1, 2), rtol=0, atol=1e-5)
    # With a generator the codec samples mean + std * N(0, 1), reproducibly.
    a = codec.encode(x, generator=torch.Generator().manual_seed(5))
    b = codec.encode(x, generator=torch.Generator().manual_seed(5))
    noise = torch.empty_like(mean).normal_(generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    torch.testing.assert_close(a, (mean + std * noise).transpose(1, 2), rtol=0, atol=1e-5)


def test_decode_is_vae_then_vocoder(tiny_16k):
    codec, vae_golden, voc_golden = tiny_16k
    # The golden latent (time-major) decodes to the golden mel; the golden mel vocodes to the
    # golden waveform.
    mel = codec.decode_mel(vae_golden["latent_mean"].transpose(1, 2))
    torch.testing.assert_close(mel, vae_golden["decoded_mel"], rtol=0, atol=1e-5)  # measured 4.4e-6
    latent = torch.randn(1, 10, 20, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = codec.vocoder(codec.decode_mel(latent))[:, 0]
    torch.testing.assert_close(codec.decode(latent), expected)
    vocoder = BigVGANGenerator.from_state_dict(
        voc_golden["generator_state_dict_as_saved"], BigVGANConfig.from_dict(voc_golden["config"])
    )
    with torch.no_grad():
        torch.testing.assert_close(
            vocoder(voc_golden["input_mel"]), voc_golden["output_waveform"], rtol=0, atol=5e-8  # 1.5e-8
        )


def test_bad_inputs(tiny_16k):
    codec, _, _ = tiny_16k
    with pytest.raises(ValueError):
        codec.encode(torch.zeros(1000))
    with pytest.raises(ValueError):
        codec.encode(torch.zeros(1, 0))
    with pytest.raises(ValueError):
        codec.decode(torch.zeros(1, 5, 21))
    with pytest.raises(ValueError):
        MMAudioCodec.random("22k", torch.Generator())  # type: ignore[arg-type]


def test_mismatched_weights_are_a_weights_error(load_golden):
    vae_golden = load_golden("vae_tiny_80.pt")
    voc_golden = load_golden("bigvgan_v1_tiny.pt")
    with pytest.raises(WeightsError):  # tiny weights against the full-size 16k configs
        MMAudioCodec.from_state_dicts(
            vae_golden["state_dict_as_saved"], voc_golden["generator_state_dict_as_saved"], "16k"
        )
