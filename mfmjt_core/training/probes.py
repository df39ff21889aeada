"""Audio-visual alignment probes: a training-only auxiliary loss for encoders trained from scratch.

MMAudio's encoders come pretrained (CLIP contrastively, Synchformer on audio-visual sync), so
its network starts from features that already say *what* sounds and *when*. The embedded
model's small encoders start from random weights, and a gradient that reaches them only through
the flow-matching loss of a noisy latent is weak: after a CPU-hour the network had not learned
where the impacts are. The probes give the encoders that direct signal instead, in the spirit of
the encoders' own pretraining objectives:

- sync features at each instant -> the (normalised) audio latent at the same instant;
- clip features at 8 fps -> the latent averaged over the same 1/8 s;
- text features (mean over tokens) -> the latent averaged over the whole clip.

Each probe is small (a short temporal conv or a linear map), so what it predicts must already be
readable from the features. The probes are not part of the model: they are trained beside it,
kept in the training state for resuming, and never exported. Generation never sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ProbeConfig:
    clip_dim: int
    sync_dim: int
    text_dim: int
    latent_dim: int
    kernel: int = 3  # temporal extent of the sync probe, in latent frames (~32 ms each)


def resample_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """(B, N, C) -> (B, length, C), linear over evenly spaced instants covering the same span."""
    if x.shape[1] == length:
        return x
    return F.interpolate(x.transpose(1, 2), size=length, mode="linear", align_corners=False).transpose(1, 2)


def pool_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """(B, N, C) -> (B, length, C): the mean over each of `length` equal spans."""
    return F.adaptive_avg_pool1d(x.transpose(1, 2), length).transpose(1, 2)


class AlignmentProbes(nn.Module):
    def __init__(self, cfg: ProbeConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.sync = nn.Conv1d(cfg.sync_dim, cfg.latent_dim, cfg.kernel, padding=cfg.kernel // 2)
        self.clip = nn.Linear(cfg.clip_dim, cfg.latent_dim)
        self.text = nn.Linear(cfg.text_dim, cfg.latent_dim)
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        with torch.no_grad():  # PyTorch's default ranges, drawn from `g`
            for layer in (self.sync, self.clip, self.text):
                bound = 1.0 / math.sqrt(layer.weight[0].numel())
                layer.weight.uniform_(-bound, bound, generator=g)
                layer.bias.uniform_(-bound, bound, generator=g)

    def forward(
        self, latent: torch.Tensor, *, clip_f: torch.Tensor, sync_f: torch.Tensor, text_f: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean of the three probes' squared errors against `latent` (B, N, C), and each one."""
        n = latent.shape[1]
        sync_pred = self.sync(resample_time(sync_f, n).transpose(1, 2)).transpose(1, 2)
        sync_loss = F.mse_loss(sync_pred.float(), latent.float())
        clip_loss = F.mse_loss(self.clip(clip_f).float(), pool_time(latent, clip_f.shape[1]).float())
        text_loss = F.mse_loss(self.text(text_f.mean(dim=1)).float(), latent.mean(dim=1).float())
        loss = (sync_loss + clip_loss + text_loss) / 3
        return loss, {"probe_sync": sync_loss.item(), "probe_clip": clip_loss.item(), "probe_text": text_loss.item()}
