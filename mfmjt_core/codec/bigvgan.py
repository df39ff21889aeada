"""BigVGAN generator (v1 and v2): log-mel (B, num_mels, F) -> waveform (B, 1, F * hop).

A pre-conv, then per upsampling stage a transposed conv and the average of several AMP blocks
(anti-aliased Snake activations around dilated convs), then an anti-aliased activation, a post-conv
and tanh (or, in v2 configs with `use_tanh_at_final = false`, a clamp to [-1, 1]).

Published checkpoints store every conv in weight-norm form, either as `weight_g` / `weight_v`
(`torch.nn.utils.weight_norm`, BigVGAN-v2 and older training code) or as
`parametrizations.weight.original0` / `original1` (the newer parametrization API). This module
holds plain `weight`s: `from_state_dict` folds g * v / |v| on load, so inference pays nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mfmjt_core.codec.alias_free import make_snake
from mfmjt_core.codec.state_dicts import fold_weight_norm, load_strict
from mfmjt_core.errors import WeightsError


@dataclass(frozen=True)
class BigVGANConfig:
    """Generator hyper-parameters; the names are those of BigVGAN's JSON / YAML configs."""

    num_mels: int
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    resblock: str = "1"
    activation: str = "snakebeta"
    snake_logscale: bool = True
    use_tanh_at_final: bool = True
    use_bias_at_final: bool = True
    sampling_rate: int | None = None

    def __post_init__(self) -> None:
        if self.resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', not {self.resblock!r}")
        if self.activation not in ("snake", "snakebeta"):
            raise ValueError(f"activation must be 'snake' or 'snakebeta', not {self.activation!r}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes differ in length")

    @property
    def hop(self) -> int:
        """Waveform samples per mel frame."""
        return math.prod(self.upsample_rates)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BigVGANConfig:
        """From a BigVGAN config dict (e.g. a checkpoint's `config.json`); training keys ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for key in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            if key in values:
                values[key] = tuple(int(v) for v in values[key])
        if "resblock_dilation_sizes" in values:
            values["resblock_dilation_sizes"] = tuple(
                tuple(int(d) for d in ds) for ds in values["resblock_dilation_sizes"]
            )
        if "resblock" in values:
            values["resblock"] = str(values["resblock"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise WeightsError(f"BigVGAN config is incomplete: {exc}") from exc


# MMAudio's 16 kHz vocoder (Make-An-Audio 2's `bigvgan_vocoder.yml`, file `best_netG.pt`).
BIGVGAN_16K = BigVGANConfig(
    num_mels=80,
    upsample_rates=(4, 4, 2, 2, 2, 2),
    upsample_kernel_sizes=(8, 8, 4, 4, 4, 4),
    upsample_initial_channel=1536,
    resblock_kernel_sizes=(3, 7, 11),
    resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    sampling_rate=16_000,
)

# Generator fields of `nvidia/bigvgan_v2_44khz_128band_512x`'s config.json; when that file is
# at hand, prefer `BigVGANConfig.from_dict(json.load(...))`.
BIGVGAN_V2_44K_512X = BigVGANConfig(
    num_mels=128,
    upsample_rates=(8, 4, 2, 2, 2, 2),
    upsample_kernel_sizes=(16, 8, 4, 4, 4, 4),
    upsample_initial_channel=1536,
    resblock_kernel_sizes=(3, 7, 11),
    resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    use_tanh_at_final=False,
    use_bias_at_final=False,
    sampling_rate=44_100,
)


class Conv1d(nn.Module):
    """Conv1d with uninitialised parameters (no global-RNG init; weights come from a file)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        dilation: int = 1,
        bias: bool = True,
        device=None,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch, kernel, device=device))
        self.bias = nn.Parameter(torch.empty(out_ch, device=device)) if bias else None
        self.dilation = dilation
        self.padding = dilation * (kernel - 1) // 2  # 'same' length for odd kernels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.weight, self.bias, padding=self.padding, dilation=self.dilation)


class ConvTranspose1d(nn.Module):
    """Transposed conv upsampling by `stride`; weight (in, out, kernel) as in torch."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, device=None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_ch, out_ch, kernel, device=device))
        self.bias = nn.Parameter(torch.empty(out_ch, device=device))
        self.stride = stride
        self.padding = (kernel - stride) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(
            x, self.weight, self.bias, stride=self.stride, padding=self.padding
        )


class AMPBlock1(nn.Module):
    """Per dilation d: x += conv_1(act(conv_d(act(x)))), six activations in all."""

    def __init__(
        self,
        cfg: BigVGANConfig,
        channels: int,
        kernel: int,
        dilations: tuple[int, ...],
        device=None,
    ) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            Conv1d(channels, channels, kernel, d, device=device) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            Conv1d(channels, channels, kernel, 1, device=device) for _ in dilations
        )
        self.activations = nn.ModuleList(
            make_snake(cfg.activation, channels, cfg.snake_logscale, device)
            for _ in range(2 * len(dilations))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (conv1, conv2) in enumerate(zip(self.convs1, self.convs2, strict=True)):
            h = conv1(self.activations[2 * i](x))
            x = x + conv2(self.activations[2 * i + 1](h))
        return x


class AMPBlock2(nn.Module):
    """Per dilation d: x += conv_d(act(x))."""

    def __init__(
        self,
        cfg: BigVGANConfig,
        channels: int,
        kernel: int,
        dilations: tuple[int, ...],
        device=None,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            Conv1d(channels, channels, kernel, d, device=device) for d in dilations
        )
        self.activations = nn.ModuleList(
            make_snake(cfg.activation, channels, cfg.snake_logscale, device) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, act in zip(self.convs, self.activations, strict=True):
            x = x + conv(act(x))
        return x


class BigVGANGenerator(nn.Module):
    """mel (B, num_mels, F) -> waveform (B, 1, F * hop), inference form (weight norm folded)."""

    def __init__(self, config: BigVGANConfig, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.config = config
        ch = config.upsample_initial_channel
        self.conv_pre = Conv1d(config.num_mels, ch, 7, device=device)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        block = AMPBlock1 if config.resblock == "1" else AMPBlock2
        for i, (rate, kernel) in enumerate(
            zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
        ):
            in_ch, ch = (
                config.upsample_initial_channel // 2**i,
                config.upsample_initial_channel // 2 ** (i + 1),
            )
            self.ups.append(nn.ModuleList([ConvTranspose1d(in_ch, ch, kernel, rate, device)]))
            for k, dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            ):
                self.resblocks.append(block(config, ch, k, dilations, device))
        self.activation_post = make_snake(config.activation, ch, config.snake_logscale, device)
        self.conv_post = Conv1d(ch, 1, 7, bias=config.use_bias_at_final, device=device)

    @classmethod
    def from_state_dict(
        cls, state_dict: Mapping[str, Any], config: BigVGANConfig
    ) -> BigVGANGenerator:
        """Load a checkpoint strictly in any stored form (see module doc), on the dict's device.

        Accepts the generator state dict itself or a checkpoint holding it under `generator`.
        """
        if "generator" in state_dict and isinstance(state_dict["generator"], Mapping):
            state_dict = state_dict["generator"]
        model = cls(config, device="meta")
        load_strict(model, fold_weight_norm(state_dict), "BigVGAN")
        return model.eval()

    def init_random_(self, generator: torch.Generator, std: float = 0.01) -> BigVGANGenerator:
        """Random weights (N(0, std) convs, N(0, 0.1) log-scale Snake parameters), for tests."""
        with torch.no_grad():
            for name, param in self.named_parameters():
                param.normal_(
                    0.0, 0.1 if name.endswith(("alpha", "beta")) else std, generator=generator
                )
        return self

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        per_stage = len(self.config.resblock_kernel_sizes)
        for i, (up,) in enumerate(self.ups):
            x = up(x)
            blocks = self.resblocks[i * per_stage : (i + 1) * per_stage]
            x = sum(block(x) for block in blocks) / per_stage
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.config.use_tanh_at_final else x.clamp(-1.0, 1.0)
