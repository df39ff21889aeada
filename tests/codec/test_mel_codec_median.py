"""The mel codec's running median over time: one-frame jumps out, onsets kept in place."""

from __future__ import annotations

import pytest
import torch

from mfmjt_core.codec.mel_codec import MelCodec, MelCodecConfig


def _latent_of(codec: MelCodec, log_mel: torch.Tensor) -> torch.Tensor:
    """(B, n_mels, frames) natural-log mel -> the codec's (B, N, latent_dim) latent."""
    cfg = codec.config
    normalised = (log_mel - cfg.norm_mean) / cfg.norm_std
    batch, _, frames = log_mel.shape
    return normalised.transpose(1, 2).reshape(batch, frames // cfg.stack, codec.latent_dim)


def test_a_one_frame_jump_goes_and_a_step_stays():
    codec = MelCodec(MelCodecConfig(n_mels=8))
    level = torch.full((1, 8, 40), -8.0)
    level[..., 20:] = -2.0  # an onset at frame 20 ...
    level[..., 30] = -9.0  # ... a one-frame dip in its decay ...
    level[..., 10] = 1.0  # ... and a one-frame burst before it
    smooth = codec.latent_to_log_mel(codec.median_over_time(_latent_of(codec, level), 3))
    expected = torch.full((1, 8, 40), -8.0)
    expected[..., 20:] = -2.0
    torch.testing.assert_close(smooth, expected)
    assert torch.equal(codec.median_over_time(_latent_of(codec, level), 1), _latent_of(codec, level))


def test_the_median_of_the_latent_is_the_median_of_the_decoded_spectrum():
    g = torch.Generator().manual_seed(0)
    ceiling = tuple(float(x) for x in torch.linspace(-3.0, 0.0, 8))
    codec = MelCodec(MelCodecConfig(n_mels=8, log_mel_ceiling=ceiling))
    latent = torch.randn(2, 25, codec.latent_dim, generator=g)
    decoded = codec.decoded_log_mel(codec.median_over_time(latent, 5))
    capped = codec.decoded_log_mel(latent)
    padded = torch.nn.functional.pad(capped, (2, 2), mode="replicate")
    torch.testing.assert_close(decoded, padded.unfold(-1, 5, 1).median(dim=-1).values)


def test_only_odd_windows_and_only_spectra():
    codec = MelCodec(MelCodecConfig(n_mels=8))
    latent = torch.zeros(1, 4, codec.latent_dim)
    for frames in (0, 2):
        with pytest.raises(ValueError, match="odd number of frames"):
            codec.median_over_time(latent, frames)
    from mfmjt_core.codec.audio_codec import AudioCodec

    class Waveform(AudioCodec):  # a codec whose latents are not spectra
        sample_rate, samples_per_latent, latent_dim = 16_000, 512, 4
        encode = decode = None

    assert AudioCodec.median_over_time(Waveform.__new__(Waveform), latent, 1) is latent
    with pytest.raises(ValueError, match="only the mel codec"):
        AudioCodec.median_over_time(Waveform.__new__(Waveform), latent, 3)
