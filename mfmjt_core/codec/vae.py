"""MMAudio's 1-D convolutional mel VAE, built from EDM2 magnitude-preserving layers.

Layout (`method.md` 3.8): an encoder of three levels (channel multipliers 1, 2, 4 of
`hidden_dim`, two residual blocks each, time halved after level 0), a middle of block-attention-
block, and a decoder mirroring it with three blocks per level (time doubled after level 1).
Parameter names and shapes are those of the published `v1-16.pth` / `v1-44.pth`.

Stored form: every convolution keeps an *unnormalised* weight. EDM2's forced weight normalisation
(each output filter scaled to unit norm) is applied either on the fly, or once by
`fold_weight_norm()`, which swaps in the normalised weights for inference (MMAudio's
`remove_weight_norm`; the caller's state dict tensors are not modified). After folding,
`state_dict()` holds the folded form: do not save a folded model as a published checkpoint.

The per-bin normalisation tables `data_mean` / `data_std` are buffers loaded from the checkpoint;
a freshly built model holds the identity (0 and 1) until then.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mfmjt_core.codec.state_dicts import load_strict

# Activations are clipped to this magnitude after every block (EDM2 training stability).
_CLIP_ACT = 256.0
# Residual branch weight of the magnitude-preserving sum in resnet and attention blocks.
_RESIDUAL_T = 0.3


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of the mel VAE; 16k and 44k differ only in these numbers."""

    data_dim: int  # mel bins
    embed_dim: int  # latent channels
    hidden_dim: int
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    down_levels: tuple[int, ...] = (0,)  # encoder levels followed by a 2x time downsample
    kernel_size: int = 3

    @property
    def time_downsample(self) -> int:
        """Mel frames per latent."""
        return 2 ** len(self.down_levels)


VAE_16K = VAEConfig(data_dim=80, embed_dim=20, hidden_dim=384)
VAE_44K = VAEConfig(data_dim=128, embed_dim=40, hidden_dim=512)


def pixel_normalize(x: torch.Tensor, dim: int | list[int], eps: float = 1e-4) -> torch.Tensor:
    """Scale x so its RMS over `dim` is 1 (EDM2 `normalize`: x / (eps + |x| / sqrt(numel)))."""
    dims = [dim] if isinstance(dim, int) else list(dim)
    norm = torch.linalg.vector_norm(x, dim=dims, keepdim=True, dtype=torch.float32)
    count = math.prod(x.shape[d] for d in dims)
    return x / (eps + norm / math.sqrt(count)).to(x.dtype)


def mp_silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU rescaled to keep unit variance for unit-variance input."""
    return F.silu(x) / 0.596


def mp_sum(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Magnitude-preserving interpolation (1 - t) a + t b."""
    return a.lerp(b, t) / math.sqrt((1 - t) ** 2 + t**2)


class MPConv1d(nn.Module):
    """Bias-free 'same' conv with EDM2 forced weight normalisation (unit-norm filters)."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, device=None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim, kernel_size, device=device))
        self.folded = False

    def normalized_weight(self) -> torch.Tensor:
        """Each output filter scaled to unit L2 norm (with EDM2's epsilon)."""
        w = self.weight.to(torch.float32)
        w = pixel_normalize(w, dim=list(range(1, w.ndim)))
        return (w / math.sqrt(w[0].numel())).to(self.weight.dtype)

    @torch.no_grad()
    def fold_weight_norm(self) -> None:
        """Replace the stored weight by its normalised form once, for inference."""
        if not self.folded:
            # New storage, so a caller's state dict (loaded with assign=True) stays untouched.
            self.weight.data = self.normalized_weight()
            self.folded = True

    def forward(self, x: torch.Tensor, gain: torch.Tensor | float = 1.0) -> torch.Tensor:
        w = self.weight if self.folded else self.normalized_weight()
        if not (isinstance(gain, float) and gain == 1.0):
            w = w * gain
        return F.conv1d(x, w, padding=w.shape[-1] // 2)


class ResnetBlock1d(nn.Module):
    """Pixel norm -> (mp_silu, conv) x 2, magnitude-preserving residual sum."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, device=None) -> None:
        super().__init__()
        self.conv1 = MPConv1d(in_dim, out_dim, kernel_size, device)
        self.conv2 = MPConv1d(out_dim, out_dim, kernel_size, device)
        self.nin_shortcut = MPConv1d(in_dim, out_dim, 1, device) if in_dim != out_dim else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_normalize(x, dim=1)
        h = self.conv2(mp_silu(self.conv1(mp_silu(x))))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return mp_sum(x, h, _RESIDUAL_T)


class AttnBlock1d(nn.Module):
    """Single-head self-attention over time with cosine-normalised q, k, v."""

    def __init__(self, dim: int, device=None) -> None:
        super().__init__()
        self.qkv = MPConv1d(dim, dim * 3, 1, device)
        self.proj_out = MPConv1d(dim, dim, 1, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, dim, length = x.shape
        # The 3C qkv channels are interleaved as (c, {q, k, v}), not as three contiguous blocks.
        qkv = pixel_normalize(self.qkv(x).reshape(batch, dim, 3, length), dim=1)
        q, k, v = (qkv[:, :, i].transpose(1, 2).unsqueeze(1) for i in range(3))
        h = F.scaled_dot_product_attention(q, k, v).squeeze(1).transpose(1, 2)
        return mp_sum(x, self.proj_out(h), _RESIDUAL_T)


class Downsample1d(nn.Module):
    """1x1 conv, average-pool by 2, 1x1 conv."""

    def __init__(self, dim: int, device=None) -> None:
        super().__init__()
        self.conv1 = MPConv1d(dim, dim, 1, device)
        self.conv2 = MPConv1d(dim, dim, 1, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.avg_pool1d(self.conv1(x), kernel_size=2, stride=2))


class Upsample1d(nn.Module):
    """Nearest-neighbour repeat by 2, then a conv."""

    def __init__(self, dim: int, device=None) -> None:
        super().__init__()
        self.conv = MPConv1d(dim, dim, 3, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.repeat_interleave(2, dim=-1))


class _Level(nn.Module):
    """One resolution level: `block` list and an optional `downsample` / `upsample`."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)


class _Middle(nn.Module):
    def __init__(self, dim: int, kernel_size: int, device=None) -> None:
        super().__init__()
        self.block_1 = ResnetBlock1d(dim, dim, kernel_size, device)
        self.attn_1 = AttnBlock1d(dim, device)
        self.block_2 = ResnetBlock1d(dim, dim, kernel_size, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block_2(self.attn_1(self.block_1(x)))
        return h.clamp(-_CLIP_ACT, _CLIP_ACT)


class Encoder1d(nn.Module):
    """Normalised mel (B, data_dim, T) -> moments (B, 2 * embed_dim, T / downsample)."""

    def __init__(self, cfg: VAEConfig, device=None) -> None:
        super().__init__()
        k = cfg.kernel_size
        self.conv_in = MPConv1d(cfg.data_dim, cfg.hidden_dim, k, device)
        self.down = nn.ModuleList()
        dim = cfg.hidden_dim
        for level, mult in enumerate(cfg.ch_mult):
            blocks = []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock1d(dim, cfg.hidden_dim * mult, k, device))
                dim = cfg.hidden_dim * mult
            stage = _Level(blocks)
            if level in cfg.down_levels:
                stage.downsample = Downsample1d(dim, device)
            self.down.append(stage)
        self.mid = _Middle(dim, k, device)
        self.conv_out = MPConv1d(dim, 2 * cfg.embed_dim, k, device)
        self.learnable_gain = nn.Parameter(torch.zeros((), device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            for block in stage.block:
                h = block(h).clamp(-_CLIP_ACT, _CLIP_ACT)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
        h = self.mid(h)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


class Decoder1d(nn.Module):
    """Latent (B, embed_dim, N) -> normalised mel (B, data_dim, N * downsample)."""

    def __init__(self, cfg: VAEConfig, device=None) -> None:
        super().__init__()
        k = cfg.kernel_size
        dim = cfg.hidden_dim * cfg.ch_mult[-1]
        self.conv_in = MPConv1d(cfg.embed_dim, dim, k, device)
        self.mid = _Middle(dim, k, device)
        # Built from the deepest level up, stored shallow-first (`up.0` is the last one applied).
        stages: list[_Level] = []
        up_levels = {level + 1 for level in cfg.down_levels}
        for level in reversed(range(len(cfg.ch_mult))):
            blocks = []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock1d(dim, cfg.hidden_dim * cfg.ch_mult[level], k, device))
                dim = cfg.hidden_dim * cfg.ch_mult[level]
            stage = _Level(blocks)
            if level in up_levels:
                stage.upsample = Upsample1d(dim, device)
            stages.insert(0, stage)
        self.up = nn.ModuleList(stages)
        self.conv_out = MPConv1d(dim, cfg.data_dim, k, device)
        self.learnable_gain = nn.Parameter(torch.zeros((), device=device))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for stage in reversed(self.up):
            for block in stage.block:
                h = block(h).clamp(-_CLIP_ACT, _CLIP_ACT)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


class MelVAE(nn.Module):
    """MMAudio's mel VAE: `encode(mel) -> (mean, std)`, `decode(latent) -> mel`; (B, C, T)."""

    def __init__(self, config: VAEConfig, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("data_mean", torch.zeros(1, config.data_dim, 1, device=device))
        self.register_buffer("data_std", torch.ones(1, config.data_dim, 1, device=device))
        self.encoder = Encoder1d(config, device)
        self.decoder = Decoder1d(config, device)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor], config: VAEConfig) -> MelVAE:
        """Build, load a published (stored-form) state dict strictly, fold weight norm, eval()."""
        vae = cls(config, device="meta")
        load_strict(vae, state_dict, "VAE")
        vae.fold_weight_norm()
        return vae.eval()

    def fold_weight_norm(self) -> MelVAE:
        """Normalise every conv weight once, for inference (idempotent)."""
        for module in self.modules():
            if isinstance(module, MPConv1d):
                module.fold_weight_norm()
        return self

    def init_random_(self, generator: torch.Generator) -> MelVAE:
        """Fill the stored-form weights with N(0, 1) (as EDM2 initialises) and small gains."""
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.endswith("learnable_gain"):
                    param.normal_(0.0, 0.1, generator=generator)
                else:
                    param.normal_(generator=generator)
        return self

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mel (B, data_dim, T) -> Gaussian mean and std, each (B, embed_dim, T // 2)."""
        moments = self.encoder((mel - self.data_mean) / self.data_std)
        mean, logvar = moments.chunk(2, dim=1)
        return mean, torch.exp(0.5 * logvar.clamp(-30.0, 20.0))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent (B, embed_dim, N) -> log-mel (B, data_dim, 2 N), un-normalised."""
        return self.decoder(latent) * self.data_std + self.data_mean
