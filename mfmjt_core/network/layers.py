"""Building blocks of the MM-DiT: SwiGLU feed-forwards, time embedding, RoPE, attention.

Parameter names (`w1/w2/w3`, `mlp.0`, `mlp.2`) follow the published MMAudio checkpoints.
Shapes: B batch, N tokens, D channels, H heads, E = D / H head width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def swiglu_width(hidden: int, multiple_of: int = 256) -> int:
    """SwiGLU hidden width: 2/3 of the nominal width, rounded up to a multiple (SD3/LLaMA rule)."""
    width = int(2 * hidden / 3)
    return multiple_of * -(-width // multiple_of)


class TokenConv1d(nn.Conv1d):
    """Conv1d over a token sequence stored channels-last: (B, N, C_in) -> (B, N, C_out)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class SwiGLU(nn.Module):
    """w2(silu(w1 x) * w3 x), bias-free; linear when kernel_size is None, else a token conv."""

    def __init__(self, dim: int, hidden: int, kernel_size: int | None = None) -> None:
        super().__init__()
        width = swiglu_width(hidden)
        if kernel_size is None:
            make = lambda i, o: nn.Linear(i, o, bias=False)
        else:
            make = lambda i, o: TokenConv1d(i, o, kernel_size, padding=kernel_size // 2, bias=False)
        self.w1 = make(dim, width)
        self.w2 = make(width, dim)
        self.w3 = make(dim, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TimeEmbedding(nn.Module):
    """Sinusoidal features of a scalar in [0, 1] followed by a two-layer MLP.

    Frequencies are (1e4 / max_period) * 1e4^(-2i/F) and the features are [cos, sin]: v1 networks
    use F = 256, max_period = 1e4; v2 networks F = D, max_period = 1 (10^4 times faster
    frequencies). The scalar is fed raw (no x1000), so d/dt through the embedding stays O(1)
    for the MeanFlow JVP.
    """

    def __init__(self, dim: int, num_freqs: int, max_period: float) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(num_freqs, dim), nn.SiLU(), nn.Linear(dim, dim))
        exponent = torch.arange(0, num_freqs, 2, dtype=torch.float32) / num_freqs
        freqs = (1e4 / max_period) * torch.pow(1e4, -exponent)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(t.dtype, torch.float32)  # fp32, or fp64 for exact tests
        angles = t[:, None].to(dtype) * self.freqs[None].to(dtype)  # (B, F/2)
        features = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        return self.mlp(features.to(t.dtype))


def rope_rotations(
    length: int, head_dim: int, *, position_scale: float = 1.0, theta: float = 1e4,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Rotation matrices for adjacent channel pairs: (1, N, E/2, 2, 2), fp32.

    `position_scale` stretches positions: CLIP tokens use latent_len / clip_len so token k sits
    at the same instant as latent k * latent_len / clip_len ("aligned RoPE").
    """
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim)
    positions = torch.arange(length, dtype=torch.float32, device=device)
    angles = positions[:, None] * (inv_freq * position_scale)[None]  # (N, E/2)
    cos, sin = torch.cos(angles), torch.sin(angles)
    return torch.stack([cos, -sin, sin, cos], dim=-1).view(1, length, head_dim // 2, 2, 2)


def apply_rope(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate (x0, x1) pairs of the last dim of (B, H, N, E) in fp32 (or wider), keeping x's dtype."""
    pairs = x.to(torch.promote_types(x.dtype, torch.float32)).unflatten(-1, (-1, 1, 2))  # (B, H, N, E/2, 1, 2)
    out = rotations[..., 0] * pairs[..., 0] + rotations[..., 1] * pairs[..., 1]
    return out.flatten(-2).to(x.dtype)  # (B, H, N, E)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Full attention (B, H, N, E) x3 -> (B, N, H*E).

    Uses SDPA; MeanFlow's forward-mode JVP needs its math backend (flash kernels have no
    forward AD), which `mfmjt_core.flows.meanflow` selects around the JVP.
    """
    out = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous())
    return out.transpose(1, 2).flatten(2)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift
