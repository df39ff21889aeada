"""MMAudio's multimodal joint-training network (MM-DiT), with a MeanFlow interval embedding.

Streams: audio latents (B, N, C_lat) at 31.25 or ~43 tokens/s, CLIP frame features (B, N_clip,
C_clip) at 8 fps, text token features (B, 77, C_text), and Synchformer features (B, N_sync,
C_sync) at 24 tokens/s that are not tokens but are added to the per-token adaLN conditioning of
the latent stream after nearest-exact resampling to N. Joint blocks attend over [latent, clip,
text]; fused blocks over the latent alone. All sequence lengths come from the inputs, so the
module has no per-duration state (RoPE is recomputed per call; it is a few kB).

The network is ignorant of the objective: it maps (latent, t, h, conditions) to a velocity in
its own time convention (`config.time_convention`); `adapter.py` turns it into the project's
average-velocity model u(z, r, t).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from mfmjt_core.network.blocks import FinalBlock, JointBlock, StreamBlock
from mfmjt_core.network.config import NetworkConfig
from mfmjt_core.network.layers import SwiGLU, TimeEmbedding, TokenConv1d, rope_rotations

SYNC_TOKENS_PER_SEGMENT = 8


class ProjectedConditions(NamedTuple):
    """Conditions after the input projections; independent of (z, t), reusable across steps."""

    clip_f: torch.Tensor  # (B, N_clip, D)
    sync_f: torch.Tensor  # (B, N, D), resampled to the latent length
    text_f: torch.Tensor  # (B, N_text, D)
    clip_f_c: torch.Tensor  # (B, D) pooled
    text_f_c: torch.Tensor  # (B, D) pooled


class MMDiT(nn.Module):
    def __init__(self, config: NetworkConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        c, d = config, config.hidden_dim
        act = nn.SiLU if c.v2 else nn.SELU
        # v2 inserts a SiLU after the first Linear of the clip and text projections.
        maybe_act = [nn.SiLU()] if c.v2 else []
        self.audio_input_proj = nn.Sequential(
            TokenConv1d(c.latent_dim, d, 7, padding=3), act(), SwiGLU(d, 4 * d, kernel_size=7)
        )
        self.clip_input_proj = nn.Sequential(nn.Linear(c.clip_dim, d), *maybe_act, SwiGLU(d, 4 * d, kernel_size=3))
        self.sync_input_proj = nn.Sequential(
            TokenConv1d(c.sync_dim, d, 7, padding=3), act(), SwiGLU(d, 4 * d, kernel_size=3)
        )
        self.text_input_proj = nn.Sequential(nn.Linear(c.text_dim, d), *maybe_act, SwiGLU(d, 4 * d))
        self.clip_cond_proj = nn.Linear(d, d)
        self.text_cond_proj = nn.Linear(d, d)
        self.global_cond_mlp = SwiGLU(d, 4 * d)
        self.sync_pos_emb = nn.Parameter(torch.zeros(1, 1, SYNC_TOKENS_PER_SEGMENT, c.sync_dim))
        self.final_layer = FinalBlock(d, c.latent_dim)
        num_freqs, max_period = (d, 1.0) if c.v2 else (256, 1e4)
        self.t_embed = TimeEmbedding(d, num_freqs, max_period)
        self.h_embed = TimeEmbedding(d, num_freqs, max_period) if c.interval_embedding else None
        self.w_embed = TimeEmbedding(d, num_freqs, max_period) if c.guidance_input else None
        self.joint_blocks = nn.ModuleList(
            JointBlock(d, c.num_heads, c.mlp_ratio, last=i == c.joint_depth - 1) for i in range(c.joint_depth)
        )
        self.fused_blocks = nn.ModuleList(
            StreamBlock(d, c.num_heads, c.mlp_ratio, kernel_size=3) for _ in range(c.fused_depth)
        )
        # Stored in published checkpoints; frozen here as there.
        self.latent_mean = nn.Parameter(torch.zeros(1, 1, c.latent_dim), requires_grad=False)
        self.latent_std = nn.Parameter(torch.ones(1, 1, c.latent_dim), requires_grad=False)
        self.empty_string_feat = nn.Parameter(torch.zeros(c.text_seq_len, c.text_dim), requires_grad=False)
        self.empty_clip_feat = nn.Parameter(torch.zeros(1, c.clip_dim))
        self.empty_sync_feat = nn.Parameter(torch.zeros(1, c.sync_dim))
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """DiT-style init: Xavier linears, small time MLPs, every modulation and output at zero.

        Convolutions keep PyTorch's default init unless a generator is given, in which case
        every random draw comes from it (reproducible models without global seeding).
        """
        if self.latent_mean.is_meta:
            return  # shapes only
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv1d) and generator is not None:
                bound = 1.0 / (m.in_channels * m.kernel_size[0]) ** 0.5
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=generator)
        for emb in (self.t_embed, self.h_embed, self.w_embed):
            if emb is not None:
                nn.init.normal_(emb.mlp[0].weight, std=0.02, generator=generator)
                nn.init.normal_(emb.mlp[2].weight, std=0.02, generator=generator)
        # h_embed and w_embed start at exactly zero: a checkpoint without them loads unchanged
        # (a flow-matching one at r = t; one without guidance input at every w).
        for emb in (self.h_embed, self.w_embed):
            if emb is not None:
                nn.init.zeros_(emb.mlp[2].weight)
                nn.init.zeros_(emb.mlp[2].bias)
        blocks = [b for j in self.joint_blocks for b in (j.latent_block, j.clip_block, j.text_block)]
        for block in [*blocks, *self.fused_blocks, self.final_layer]:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.conv.weight)
        nn.init.zeros_(self.final_layer.conv.bias)
        for p in (self.sync_pos_emb, self.empty_clip_feat, self.empty_sync_feat):
            nn.init.zeros_(p)

    # -- conditions ---------------------------------------------------------------------------

    def project_conditions(
        self, clip_f: torch.Tensor, sync_f: torch.Tensor, text_f: torch.Tensor, latent_len: int
    ) -> ProjectedConditions:
        b, n_sync, _ = sync_f.shape
        if n_sync % SYNC_TOKENS_PER_SEGMENT:
            raise ValueError(f"sync features need a multiple of {SYNC_TOKENS_PER_SEGMENT} tokens, got {n_sync}")
        segments = sync_f.view(b, n_sync // SYNC_TOKENS_PER_SEGMENT, SYNC_TOKENS_PER_SEGMENT, -1)
        sync_f = self.sync_input_proj((segments + self.sync_pos_emb).flatten(1, 2))  # (B, N_sync, D)
        sync_f = F.interpolate(sync_f.transpose(1, 2), size=latent_len, mode="nearest-exact").transpose(1, 2)
        clip_f = self.clip_input_proj(clip_f)
        text_f = self.text_input_proj(text_f)
        return ProjectedConditions(
            clip_f=clip_f,
            sync_f=sync_f,
            text_f=text_f,
            clip_f_c=self.clip_cond_proj(clip_f.mean(dim=1)),
            text_f_c=self.text_cond_proj(text_f.mean(dim=1)),
        )

    def empty_conditions(
        self, batch: int, clip_len: int, sync_len: int, *, negative_text_f: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Raw null features for guidance: learned empty video, empty-string (or negative) text."""
        text = self.empty_string_feat.unsqueeze(0).expand(batch, -1, -1)
        if negative_text_f is not None:
            text = negative_text_f.expand(batch, -1, -1)
        return {
            "clip_f": self.empty_clip_feat.unsqueeze(0).expand(batch, clip_len, -1),
            "sync_f": self.empty_sync_feat.unsqueeze(0).expand(batch, sync_len, -1),
            "text_f": text,
        }

    # -- forward ------------------------------------------------------------------------------

    def predict(
        self, latent: torch.Tensor, t: torch.Tensor, h: torch.Tensor | None, cond: ProjectedConditions,
        w: torch.Tensor | None = None,
    ) -> torch.Tensor:
        n, n_clip = latent.shape[1], cond.clip_f.shape[1]
        e = self.config.head_dim
        latent_rot = rope_rotations(n, e, device=latent.device)
        clip_rot = rope_rotations(n_clip, e, position_scale=n / n_clip, device=latent.device)

        global_c = self.t_embed(t) + self.global_cond_mlp(cond.clip_f_c + cond.text_f_c)  # (B, D)
        if self.h_embed is not None and h is not None:
            global_c = global_c + self.h_embed(h)
        if self.w_embed is not None:  # the guidance scale; None is 1, unguided
            global_c = global_c + self.w_embed(t.new_ones(t.shape) if w is None else w.to(t.dtype).expand(t.shape))
        global_c = global_c.unsqueeze(1)  # (B, 1, D)
        extended_c = global_c + cond.sync_f  # (B, N, D): per-token conditioning carries sync

        x = self.audio_input_proj(latent)
        clip_f, text_f = cond.clip_f, cond.text_f
        for block in self.joint_blocks:
            x, clip_f, text_f = block(x, clip_f, text_f, global_c, extended_c, latent_rot, clip_rot)
        for block in self.fused_blocks:
            x = block(x, extended_c, latent_rot)
        # MMAudio conditions the final layer on global_c, not extended_c (its issue #55); kept
        # so published weights mean the same thing.
        return self.final_layer(x, global_c)

    def forward(
        self,
        latent: torch.Tensor,
        t: torch.Tensor,
        clip_f: torch.Tensor,
        sync_f: torch.Tensor,
        text_f: torch.Tensor,
        h: torch.Tensor | None = None,
        w: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity (B, N, C_lat) in the network's own time convention; h = t - r (None: 0);
        w (B,) the guidance scales of a `guidance_input` network (None: 1; others ignore it)."""
        cond = self.project_conditions(clip_f, sync_f, text_f, latent.shape[1])
        return self.predict(latent, t, h, cond, w)

    # -- latent statistics --------------------------------------------------------------------

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.latent_mean) / self.latent_std

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.latent_std + self.latent_mean
