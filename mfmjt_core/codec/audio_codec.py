"""The one interface every audio codec implements: waveform <-> time-major latent sequence.

Layouts: waveform (B, n) float in [-1, 1] at `sample_rate`; latent (B, N, C) with
C = `latent_dim`, the layout the network takes. A codec turns every `samples_per_latent`
samples into one latent; `encode` zero-pads the end of a waveform up to whole latents, so
`encode` gives `ceil(n / samples_per_latent)` latents and `decode` returns
`num_samples(N)` = N * samples_per_latent samples.
"""

from __future__ import annotations

import abc
import math
from fractions import Fraction

import torch
import torch.nn.functional as F


def as_fraction(value: float | Fraction) -> Fraction:
    """Exact value of a duration: floats are read as the nearest short decimal (0.1 -> 1/10)."""
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**9)
    return Fraction(value)


class AudioCodec(abc.ABC):
    """Waveform <-> latent codec. Subclasses are usually also `torch.nn.Module`s."""

    @property
    @abc.abstractmethod
    def sample_rate(self) -> int:
        """Waveform samples per second."""

    @property
    @abc.abstractmethod
    def samples_per_latent(self) -> int:
        """Waveform samples covered by one latent."""

    @property
    @abc.abstractmethod
    def latent_dim(self) -> int:
        """Channels C of a latent."""

    @abc.abstractmethod
    def encode(
        self, waveform: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """(B, n) waveform -> (B, ceil(n / samples_per_latent), latent_dim) latent.

        Deterministic codecs ignore `generator`; stochastic ones sample with it when given.
        """

    @abc.abstractmethod
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, N, latent_dim) latent -> (B, N * samples_per_latent) waveform."""

    def median_over_time(self, latent: torch.Tensor, frames: int) -> torch.Tensor:
        """The latent smoothed by a running median over `frames` time frames (1: unchanged);
        only codecs whose latents are spectra (the mel codec) can take one."""
        if frames == 1:
            return latent
        raise ValueError(f"{type(self).__name__} latents take no median over time (only the mel codec's)")

    @property
    def latent_rate(self) -> Fraction:
        """Latents per second (exact): 16 kHz MMAudio is 31.25, 44.1 kHz 44100/1024."""
        return Fraction(self.sample_rate, self.samples_per_latent)

    def num_latents(self, duration_s: float | Fraction) -> int:
        """Latents needed to cover `duration_s` seconds (rounded up; 8 s at 16 kHz -> 250)."""
        return math.ceil(as_fraction(duration_s) * self.sample_rate / self.samples_per_latent)

    def num_samples(self, num_latents: int) -> int:
        """Waveform samples `decode` returns for `num_latents` latents."""
        return num_latents * self.samples_per_latent


def check_waveform(waveform: torch.Tensor) -> None:
    """Raise ValueError unless `waveform` is a non-empty (B, n) floating tensor."""
    if waveform.ndim != 2 or waveform.shape[-1] == 0 or not waveform.is_floating_point():
        raise ValueError(
            f"waveform must be a non-empty float tensor (batch, samples), got "
            f"{tuple(waveform.shape)} {waveform.dtype}"
        )


def check_latent(latent: torch.Tensor, latent_dim: int) -> None:
    """Raise ValueError unless `latent` is (B, N, latent_dim) with N >= 1."""
    if latent.ndim != 3 or latent.shape[-1] != latent_dim or latent.shape[1] == 0:
        raise ValueError(
            f"latent must be (batch, length >= 1, {latent_dim}), got {tuple(latent.shape)}"
        )


def pad_to_whole_latents(waveform: torch.Tensor, samples_per_latent: int) -> torch.Tensor:
    """Zero-pad the end of (B, n) so n is a multiple of `samples_per_latent`."""
    remainder = waveform.shape[-1] % samples_per_latent
    if remainder == 0:
        return waveform
    return F.pad(waveform, (0, samples_per_latent - remainder))
