"""Snake activations and BigVGAN's anti-aliased activation (2x upsample, act, 2x downsample).

The periodic Snake nonlinearities create harmonics above Nyquist; BigVGAN evaluates them at twice
the rate between two Kaiser-windowed sinc low-pass filters so those harmonics do not alias back.
Module and buffer names (`act.alpha`, `upsample.filter`, `downsample.lowpass.filter`) follow the
published checkpoints, which store the filters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Guards 1 / alpha (or 1 / beta) against a zero parameter.
_SNAKE_EPS = 1e-9


def kaiser_sinc_lowpass(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Windowed-sinc low-pass taps (1, 1, kernel_size), summing to 1.

    `cutoff` and `half_width` are in cycles per sample (0.5 = Nyquist). The Kaiser beta follows
    Kaiser's empirical formula for the attenuation A (dB) a transition band of 2 * half_width
    allows with this many taps.
    """
    if not 0 < cutoff <= 0.5:
        raise ValueError("cutoff must be in (0, 0.5]")
    half = kernel_size // 2
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, periodic=False, beta=beta)
    if kernel_size % 2 == 0:
        time = torch.arange(-half, half) + 0.5  # taps sit between samples
    else:
        time = torch.arange(kernel_size) - half
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (taps / taps.sum()).view(1, 1, kernel_size)


class Snake(nn.Module):
    """x + sin^2(alpha x) / alpha, per channel; alpha stored as log when `logscale`."""

    def __init__(self, channels: int, logscale: bool, device=None) -> None:
        super().__init__()
        self.logscale = logscale
        init = torch.zeros if logscale else torch.ones
        self.alpha = nn.Parameter(init(channels, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha[None, :, None]
        if self.logscale:
            alpha = alpha.exp()
        return x + torch.sin(x * alpha).pow(2) / (alpha + _SNAKE_EPS)


class SnakeBeta(nn.Module):
    """x + sin^2(alpha x) / beta: frequency (alpha) and magnitude (beta) set separately."""

    def __init__(self, channels: int, logscale: bool, device=None) -> None:
        super().__init__()
        self.logscale = logscale
        init = torch.zeros if logscale else torch.ones
        self.alpha = nn.Parameter(init(channels, device=device))
        self.beta = nn.Parameter(init(channels, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha, beta = self.alpha[None, :, None], self.beta[None, :, None]
        if self.logscale:
            alpha, beta = alpha.exp(), beta.exp()
        return x + torch.sin(x * alpha).pow(2) / (beta + _SNAKE_EPS)


class Upsample2x(nn.Module):
    """Zero-stuffing 2x upsampler with a low-pass interpolation filter (edge-replicated)."""

    def __init__(self, kernel_size: int = 12, device=None) -> None:
        super().__init__()
        self.ratio = 2
        self.kernel_size = kernel_size
        taps = kaiser_sinc_lowpass(0.5 / self.ratio, 0.6 / self.ratio, kernel_size)
        self.register_buffer("filter", taps.to(device))
        self.pad = kernel_size // self.ratio - 1
        # Samples of the transposed convolution that belong to the replicated margins.
        self.trim_left = self.pad * self.ratio + (kernel_size - self.ratio) // 2
        self.trim_right = self.pad * self.ratio + (kernel_size - self.ratio + 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        taps = self.filter.expand(channels, -1, -1)
        x = self.ratio * F.conv_transpose1d(x, taps, stride=self.ratio, groups=channels)
        return x[..., self.trim_left : x.shape[-1] - self.trim_right]


class LowPass(nn.Module):
    """Depthwise low-pass filter with edge-replicated padding and an optional stride."""

    def __init__(
        self, cutoff: float, half_width: float, stride: int, kernel_size: int, device=None
    ):
        super().__init__()
        self.stride = stride
        self.pad_left = kernel_size // 2 - int(kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.register_buffer(
            "filter", kaiser_sinc_lowpass(cutoff, half_width, kernel_size).to(device)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(
            x, self.filter.expand(channels, -1, -1), stride=self.stride, groups=channels
        )


class Downsample2x(nn.Module):
    """Low-pass at the new Nyquist, then keep every second sample."""

    def __init__(self, kernel_size: int = 12, device=None) -> None:
        super().__init__()
        self.lowpass = LowPass(0.25, 0.3, stride=2, kernel_size=kernel_size, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class AntiAliasedActivation(nn.Module):
    """upsample 2x -> activation -> downsample 2x, on (B, C, T)."""

    def __init__(self, activation: nn.Module, kernel_size: int = 12, device=None) -> None:
        super().__init__()
        self.act = activation
        self.upsample = Upsample2x(kernel_size, device)
        self.downsample = Downsample2x(kernel_size, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


def make_snake(kind: str, channels: int, logscale: bool, device=None) -> AntiAliasedActivation:
    """Anti-aliased 'snake' or 'snakebeta' activation for `channels` channels."""
    if kind == "snakebeta":
        return AntiAliasedActivation(SnakeBeta(channels, logscale, device), device=device)
    if kind == "snake":
        return AntiAliasedActivation(Snake(channels, logscale, device), device=device)
    raise ValueError(f"activation must be 'snake' or 'snakebeta', not {kind!r}")
