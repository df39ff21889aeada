"""MMAudio's audio codec: log-mel front-end + mel VAE + BigVGAN vocoder, as one `AudioCodec`.

Variants: "16k" (80 mels, 20 latent channels, BigVGAN v1 `best_netG.pt`) and "44k" (128 mels,
40 channels, BigVGAN-v2 `nvidia/bigvgan_v2_44khz_128band_512x`). One latent covers two mel frames:
512 samples at 16 kHz (31.25 latents/s) and 1024 at 44.1 kHz (~43.07/s).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from mfmjt_core.codec.audio_codec import AudioCodec, check_latent, check_waveform, pad_to_whole_latents
from mfmjt_core.codec.bigvgan import (
    BIGVGAN_16K,
    BIGVGAN_V2_44K_512X,
    BigVGANConfig,
    BigVGANGenerator,
)
from mfmjt_core.codec.mel import MEL_16K, MEL_44K, MelConfig, MelFrontend
from mfmjt_core.codec.vae import VAE_16K, VAE_44K, MelVAE, VAEConfig
from mfmjt_core.weights.cache import resolve_bundle
from mfmjt_core.weights.loading import load_checkpoint
from mfmjt_core.weights.registry import DEFAULT_REGISTRY, Registry

Variant = Literal["16k", "44k"]

VARIANTS: dict[str, tuple[MelConfig, VAEConfig, BigVGANConfig]] = {
    "16k": (MEL_16K, VAE_16K, BIGVGAN_16K),
    "44k": (MEL_44K, VAE_44K, BIGVGAN_V2_44K_512X),
}


def _variant(name: str) -> tuple[MelConfig, VAEConfig, BigVGANConfig]:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown MMAudio codec variant {name!r}; known: {sorted(VARIANTS)}"
        ) from None


class MMAudioCodec(nn.Module, AudioCodec):
    """waveform -> log-mel -> VAE latent (time-major), and back through VAE decoder and vocoder."""

    def __init__(self, mel: MelConfig, vae: MelVAE, vocoder: BigVGANGenerator) -> None:
        super().__init__()
        voc = vocoder.config
        if not mel.n_mels == vae.config.data_dim == voc.num_mels:
            raise ValueError(
                f"mel bins disagree: front-end {mel.n_mels}, VAE {vae.config.data_dim}, "
                f"vocoder {voc.num_mels}"
            )
        if voc.hop != mel.hop:
            raise ValueError(f"vocoder hop {voc.hop} differs from the mel hop {mel.hop}")
        if voc.sampling_rate is not None and voc.sampling_rate != mel.sample_rate:
            raise ValueError(f"vocoder rate {voc.sampling_rate} differs from {mel.sample_rate}")
        self.frontend = MelFrontend(mel, device=vae.data_mean.device)
        self.vae = vae
        self.vocoder = vocoder

    @classmethod
    def from_bundle(
        cls,
        bundle: str = "mmaudio-small-16k",
        *,
        cache: str | os.PathLike | None = None,
        registry: Registry = DEFAULT_REGISTRY,
        vae_config: VAEConfig | None = None,
        vocoder_config: BigVGANConfig | Mapping[str, Any] | None = None,
    ) -> MMAudioCodec:
        """The codec (VAE + vocoder) of a published bundle in the weights cache; the vocoder's
        own `config.json` is used unless `vocoder_config` is given. MissingWeightsError (naming
        `mfmjt fetch`) when the bundle has not been fetched."""
        spec = registry.bundle(bundle)
        paths = resolve_bundle(bundle, cache, registry=registry,
                               roles=("vae", "vocoder", "vocoder_config"))
        if vocoder_config is None and "vocoder_config" in paths:
            vocoder_config = json.loads(Path(paths["vocoder_config"]).read_text())
        return cls.from_state_dicts(
            load_checkpoint(paths["vae"]), load_checkpoint(paths["vocoder"], key="generator"),
            variant="16k" if spec.sample_rate == 16_000 else "44k",
            vae_config=vae_config, vocoder_config=vocoder_config,
        )

    @classmethod
    def from_state_dicts(
        cls,
        vae_state_dict: Mapping[str, torch.Tensor],
        vocoder_state_dict: Mapping[str, Any],
        variant: Variant = "16k",
        *,
        vae_config: VAEConfig | None = None,
        vocoder_config: BigVGANConfig | Mapping[str, Any] | None = None,
    ) -> MMAudioCodec:
        """Build from published state dicts (VAE stored form; vocoder in any weight-norm form).

        `vocoder_config` overrides the variant's vocoder, e.g. with the dict of the checkpoint's
        own `config.json`. Raises WeightsError when a state dict does not fit.
        """
        mel, default_vae, default_voc = _variant(variant)
        if isinstance(vocoder_config, Mapping):
            vocoder_config = BigVGANConfig.from_dict(vocoder_config)
        vae = MelVAE.from_state_dict(vae_state_dict, vae_config or default_vae)
        vocoder = BigVGANGenerator.from_state_dict(
            vocoder_state_dict, vocoder_config or default_voc
        )
        return cls(mel, vae, vocoder).eval()

    @classmethod
    def random(
        cls,
        variant: Variant,
        generator: torch.Generator,
        *,
        vae_config: VAEConfig | None = None,
        vocoder_config: BigVGANConfig | None = None,
    ) -> MMAudioCodec:
        """Random weights at full (or the given) size, for timing and shape tests only."""
        mel, default_vae, default_voc = _variant(variant)
        vae = MelVAE(vae_config or default_vae).init_random_(generator).fold_weight_norm()
        vocoder = BigVGANGenerator(vocoder_config or default_voc).init_random_(generator)
        return cls(mel, vae, vocoder).eval()

    @property
    def sample_rate(self) -> int:
        return self.frontend.config.sample_rate

    @property
    def samples_per_latent(self) -> int:
        return self.frontend.config.hop * self.vae.config.time_downsample

    @property
    def latent_dim(self) -> int:
        return self.vae.config.embed_dim

    @torch.no_grad()
    def encode_distribution(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n) -> posterior mean and std, each (B, N, latent_dim)."""
        check_waveform(waveform)
        mel = self.frontend(pad_to_whole_latents(waveform, self.samples_per_latent))
        mean, std = self.vae.encode(mel.to(self.vae.data_mean.dtype))
        return mean.transpose(1, 2), std.transpose(1, 2)

    def encode(
        self, waveform: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """(B, n) -> (B, N, latent_dim): posterior mean, or a sample when `generator` is given."""
        mean, std = self.encode_distribution(waveform)
        if generator is None:
            return mean
        # Drawn channel-major, (B, C, N), like MMAudio's posterior sampling, then transposed.
        batch, length, channels = mean.shape
        noise = torch.randn(
            batch, channels, length, generator=generator, device=mean.device, dtype=mean.dtype
        ).transpose(1, 2)
        return mean + std * noise

    @torch.no_grad()
    def decode_mel(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, N, latent_dim) -> log-mel (B, n_mels, 2 N)."""
        check_latent(latent, self.latent_dim)
        return self.vae.decode(latent.transpose(1, 2).to(self.vae.data_mean))

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, N, latent_dim) -> waveform (B, N * samples_per_latent) in [-1, 1]."""
        return self.vocoder(self.decode_mel(latent)).squeeze(1)
