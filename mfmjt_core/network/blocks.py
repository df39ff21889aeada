"""Transformer blocks of the MM-DiT (names match MMAudio's state dicts).

A `StreamBlock` is one adaLN-modulated transformer block over one token stream; it is split into
`qkv` (before attention) and `finish` (after) so `JointBlock` can attend over the concatenation
of the latent, CLIP and text streams. Shapes: (B, N, D) tokens, (B, 1 or N, D) conditioning.
"""

from __future__ import annotations

import torch
from torch import nn

from mfmjt_core.network.layers import SwiGLU, TokenConv1d, apply_rope, attention, modulate


class SelfAttention(nn.Module):
    """qkv projection with per-head RMSNorm on q and k."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.RMSNorm(dim // num_heads)
        self.k_norm = nn.RMSNorm(dim // num_heads)

    def project(
        self, x: torch.Tensor, rotations: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        # The published layout interleaves q, k, v innermost: row (h * E + e) * 3 + {0, 1, 2}.
        qkv = self.qkv(x).view(b, n, self.num_heads, d // self.num_heads, 3)
        q, k, v = qkv.permute(4, 0, 2, 1, 3).unbind(0)  # each (B, H, N, E)
        q, k = self.q_norm(q), self.k_norm(k)
        if rotations is not None:
            q, k = apply_rope(q, rotations), apply_rope(k, rotations)
        return q, k, v


class StreamBlock(nn.Module):
    """adaLN transformer block; `kv_only` blocks just provide keys and values (no outputs)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, kernel_size: int, kv_only: bool = False) -> None:
        super().__init__()
        self.kv_only = kv_only
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = SelfAttention(dim, num_heads)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, (2 if kv_only else 6) * dim))
        if not kv_only:
            hidden = int(dim * mlp_ratio)
            if kernel_size == 1:  # the text stream has no temporal order to convolve over
                self.linear1 = nn.Linear(dim, dim)
                self.ffn = SwiGLU(dim, hidden)
            else:
                self.linear1 = TokenConv1d(dim, dim, kernel_size, padding=kernel_size // 2)
                self.ffn = SwiGLU(dim, hidden, kernel_size)
            self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)

    def qkv(self, x: torch.Tensor, c: torch.Tensor, rotations: torch.Tensor | None):
        """Returns (q, k, v) and the modulation left for `finish`."""
        mods = self.adaLN_modulation(c).chunk(2 if self.kv_only else 6, dim=-1)
        shift_msa, scale_msa = mods[0], mods[1]
        q, k, v = self.attn.project(modulate(self.norm1(x), shift_msa, scale_msa), rotations)
        return (q, k, v), mods[2:]

    def finish(self, x: torch.Tensor, attn_out: torch.Tensor, mods) -> torch.Tensor:
        if self.kv_only:
            return x
        gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
        x = x + self.linear1(attn_out) * gate_msa
        return x + self.ffn(modulate(self.norm2(x), shift_mlp, scale_mlp)) * gate_mlp

    def forward(self, x: torch.Tensor, c: torch.Tensor, rotations: torch.Tensor | None) -> torch.Tensor:
        qkv, mods = self.qkv(x, c, rotations)
        return self.finish(x, attention(*qkv), mods)


class JointBlock(nn.Module):
    """Three streams attend jointly over [latent, clip, text] tokens (MM-DiT)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, last: bool) -> None:
        super().__init__()
        # In the last joint block CLIP and text only feed keys/values to the latent stream.
        self.latent_block = StreamBlock(dim, num_heads, mlp_ratio, kernel_size=3)
        self.clip_block = StreamBlock(dim, num_heads, mlp_ratio, kernel_size=3, kv_only=last)
        self.text_block = StreamBlock(dim, num_heads, mlp_ratio, kernel_size=1, kv_only=last)

    def forward(self, latent, clip_f, text_f, global_c, extended_c, latent_rot, clip_rot):
        x_qkv, x_mods = self.latent_block.qkv(latent, extended_c, latent_rot)
        c_qkv, c_mods = self.clip_block.qkv(clip_f, global_c, clip_rot)
        t_qkv, t_mods = self.text_block.qkv(text_f, global_c, None)
        joint = [torch.cat(parts, dim=2) for parts in zip(x_qkv, c_qkv, t_qkv)]
        out = attention(*joint)  # (B, N_latent + N_clip + N_text, D)
        x_out, c_out, t_out = out.split([latent.shape[1], clip_f.shape[1], text_f.shape[1]], dim=1)
        latent = self.latent_block.finish(latent, x_out, x_mods)
        clip_f = self.clip_block.finish(clip_f, c_out, c_mods)
        text_f = self.text_block.finish(text_f, t_out, t_mods)
        return latent, clip_f, text_f


class FinalBlock(nn.Module):
    """adaLN (shift, scale) -> LayerNorm -> conv to the latent channels."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.conv = TokenConv1d(dim, out_dim, 7, padding=3)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.conv(modulate(self.norm(x), shift, scale))
