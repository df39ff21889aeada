"""A small 2-D task for testing the training loop (importable by torchrun workers)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from mfmjt_core.flows import fm_loss, meanflow_loss
from mfmjt_core.training.train_config import ObjectiveConfig


class ToyField(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 2))

    def forward(self, z, r, t):
        return self.net(torch.cat([z, t[:, None], (t - r)[:, None]], dim=1))


class ToyTask:
    def __init__(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.model = ToyField()
        for p in self.model.parameters():  # deterministic init without touching the global RNG
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def latent_shape(self):
        return (2,)

    def batch(self, indices):
        angles = torch.tensor([(i % 4) * math.pi / 2 for i in indices])
        return torch.stack([angles.cos(), angles.sin()], dim=1) * 2

    def loss(self, forward_model, jvp_model, batch, draws, objective: ObjectiveConfig):
        if objective.kind == "fm":
            return fm_loss(forward_model, batch, noise=draws.noise, t=draws.t)
        return meanflow_loss(forward_model, batch, noise=draws.noise, t=draws.t, r=draws.r,
                             weight_p=objective.weight_p, weight_c=objective.weight_c, jvp_model=jvp_model,
                             derivative=objective.derivative)

    def export(self, state_dict, path: Path) -> None:
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
