"""Synchformer's visual branch (MotionFormer), written to load `synchformer_state_dict.pth`.

Facts (from MMAudio's `ext/synchformer` and the manifest in reference/manifests/synchformer.json;
the code here is our own): a 16-frame segment at 224 px is cut into tubelets of 2 frames x 16 x 16
pixels (Conv3d), giving 8 x 14 x 14 tokens plus a CLS token. Positions: the CLS token gets
`pos_embed[0]`; the patch at (time t, place n) gets `pos_embed[1 + n] + temp_embed[t]`. Each of the
12 blocks runs, with pre-norm residuals, time attention (norm3, `timeattn`), then space attention
(norm1, `attn`), then the MLP (norm2). In divided attention a patch token attends to the CLS token
plus the tokens at the same place (time) or in the same frame (space), and the CLS token attends
to every token. Afterwards the CLS token is dropped, `norm` applied, and each of the 8 time steps
is pooled over its 196 places by a pre-norm transformer layer with its own CLS token
(`spatial_attn_agg`, exact GELU, eps 1e-6) -> 8 tokens of 768 per segment. Temporal aggregation
is the identity. `patch_embed` (2-D) exists in the checkpoint but is unused. Frames are
normalised with mean = std = 0.5.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mfmjt_core.encoders.encoder_set import split_segments
from mfmjt_core.encoders.params import build_on_meta, materialize
from mfmjt_core.weights.loading import load_checkpoint, load_strict, select_prefix

PREFIX = "vfeat_extractor."


@dataclass(frozen=True)
class SynchformerConfig:
    """MotionFormer geometry; the defaults are the published ViT-B/16, 16 x 224 x 224 model."""

    image_size: int = 224
    patch_size: int = 16
    segment_frames: int = 16
    tubelet_frames: int = 2
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: int = 4
    eps: float = 1e-6

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def places(self) -> int:
        return self.grid * self.grid

    @property
    def time_steps(self) -> int:
        return self.segment_frames // self.tubelet_frames


SYNCHFORMER = SynchformerConfig()


class PatchEmbed(nn.Module):
    """2-D patch projection; present in the published weights, unused by the video path."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.dim, cfg.patch_size, stride=cfg.patch_size)


class TubeletEmbed(nn.Module):
    """(N, 3, T, H, W) -> (N, T/2 * H/16 * W/16, D), tokens ordered time, row, column."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        kernel = (cfg.tubelet_frames, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(3, cfg.dim, kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DividedAttention(nn.Module):
    """Attention restricted to one axis of the (time, place) token grid, plus the CLS token."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, time_steps: int, axis: str) -> torch.Tensor:
        n, length, dim = x.shape
        places = (length - 1) // time_steps
        # qkv output is [q | k | v], each split into heads as (head, head_dim)
        qkv = self.qkv(x).view(n, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (n, heads, length, head_dim)
        cls_out = F.scaled_dot_product_attention(q[:, :, :1], k, v)  # CLS sees every token

        def grid(t: torch.Tensor) -> torch.Tensor:  # (n, h, T*P, d) -> groups along `axis`
            t = t[:, :, 1:].unflatten(2, (time_steps, places))  # (n, h, T, P, d)
            return t.transpose(2, 3) if axis == "time" else t  # time: groups are places

        qg, kg, vg = grid(q), grid(k), grid(v)
        groups = qg.shape[2]
        cls_k = k[:, :, None, :1].expand(-1, -1, groups, -1, -1)
        cls_v = v[:, :, None, :1].expand(-1, -1, groups, -1, -1)
        out = F.scaled_dot_product_attention(
            qg, torch.cat([cls_k, kg], dim=3), torch.cat([cls_v, vg], dim=3)
        )
        if axis == "time":
            out = out.transpose(2, 3)
        out = torch.cat([cls_out, out.flatten(2, 3)], dim=2)  # (n, h, 1 + T*P, d)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DividedSpaceTimeBlock(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.attn = DividedAttention(cfg.dim, cfg.heads)
        self.timeattn = DividedAttention(cfg.dim, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.mlp = Mlp(cfg.dim, cfg.mlp_ratio * cfg.dim)
        self.norm3 = nn.LayerNorm(cfg.dim, eps=cfg.eps)

    def forward(self, x: torch.Tensor, time_steps: int) -> torch.Tensor:
        x = x + self.timeattn(self.norm3(x), time_steps, "time")
        x = x + self.attn(self.norm1(x), time_steps, "space")
        return x + self.mlp(self.norm2(x))


class SpatialAggregator(nn.Module):
    """Pre-norm transformer layer over one frame's places; returns its CLS token's state."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.self_attn = nn.MultiheadAttention(cfg.dim, cfg.heads, batch_first=True)
        self.linear1 = nn.Linear(cfg.dim, cfg.mlp_ratio * cfg.dim)
        self.linear2 = nn.Linear(cfg.mlp_ratio * cfg.dim, cfg.dim)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, P, D) -> (N, D)."""
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]
        x = x + self.linear2(F.gelu(self.linear1(self.norm2(x))))
        return x[:, 0]


class MotionFormer(nn.Module):
    """Segments (N, 3, 16, H, W) normalised -> (N, 8, D) per-time-step features."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.cfg = cfg
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.places + 1, cfg.dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.time_steps, cfg.dim))
        self.patch_embed = PatchEmbed(cfg).requires_grad_(False)
        self.patch_embed_3d = TubeletEmbed(cfg)
        self.blocks = nn.ModuleList(DividedSpaceTimeBlock(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.spatial_attn_agg = SpatialAggregator(cfg)

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        x = self.patch_embed_3d(segments)  # (N, T*P, D)
        place = self.pos_embed[:, 1:].repeat(1, cfg.time_steps, 1)
        time = self.temp_embed.repeat_interleave(cfg.places, dim=1)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x + place + time], dim=1)
        for block in self.blocks:
            x = block(x, cfg.time_steps)
        x = self.norm(x[:, 1:])  # (N, T*P, D)
        n = x.shape[0]
        pooled = self.spatial_attn_agg(x.reshape(n * cfg.time_steps, cfg.places, cfg.dim))
        return pooled.view(n, cfg.time_steps, cfg.dim)


class SynchformerVisual(nn.Module):
    """The part of Synchformer MMAudio uses, with the published parameter names."""

    def __init__(self, cfg: SynchformerConfig = SYNCHFORMER):
        super().__init__()
        self.cfg = cfg
        self.vfeat_extractor = MotionFormer(cfg)

    @classmethod
    def create(
        cls,
        cfg: SynchformerConfig = SYNCHFORMER,
        *,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> SynchformerVisual:
        """A model with storage on `device`: random if `generator`, else left for weights."""
        return materialize(build_on_meta(lambda: cls(cfg)), device, generator).eval()

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        cfg: SynchformerConfig = SYNCHFORMER,
        *,
        device: torch.device | str | None = None,
        fetch_hint: str | None = None,
    ) -> SynchformerVisual:
        """Load `synchformer_state_dict.pth` (its audio branch and heads are dropped)."""
        model = cls.create(cfg, device=device)
        model.load_published(load_checkpoint(path, fetch_hint=fetch_hint), what=str(path))
        return model

    def load_published(self, state_dict: Mapping[str, torch.Tensor], what: str = "state dict"):
        """Strictly load the `vfeat_extractor.*` entries of a Synchformer state dict."""
        load_strict(self, select_prefix(state_dict, PREFIX), what=what)

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        """Normalised segments (N, 3, 16, H, W) -> (N, 8, D)."""
        return self.vfeat_extractor(segments)

    def encode_frames(self, frames: torch.Tensor, segments_per_batch: int = 0) -> torch.Tensor:
        """Frames (B, T, 3, 224, 224) in [0, 1] -> (B, segments * 8, D).

        `segments_per_batch` bounds memory (0: all segments of the batch at once).
        """
        param = self.vfeat_extractor.cls_token
        segs = split_segments(frames)  # (B, S, 16, 3, H, W)
        b, s = segs.shape[:2]
        segs = segs.flatten(0, 1).transpose(1, 2)  # (B*S, 3, 16, H, W)
        step = segments_per_batch if segments_per_batch > 0 else segs.shape[0]
        out = [  # Synchformer's normalisation: mean = std = 0.5
            self((segs[i : i + step].to(param.dtype) - 0.5) / 0.5)
            for i in range(0, segs.shape[0], step)
        ]
        return torch.cat(out).view(b, s * self.cfg.time_steps, self.cfg.dim)
