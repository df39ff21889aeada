"""The adapter from a network's own time convention to the project's.

Project convention (docs/architecture.md): t = 1 is noise, t = 0 is data, z_t = (1 - t) x + t eps,
v = eps - x, and a model is a callable u(z, r, t, **cond) giving the average velocity over [r, t].
MMAudio's published networks use t' = 1 - t and velocity data - noise = -v, so for them
u(z, r, t) = -net(z, t' = 1 - t, h = t - r). The interval h = t - r reads the same either way.
"""

from __future__ import annotations

import torch

from mfmjt_core.network.mmdit import MMDiT


class AverageVelocity:
    """Wrap an `MMDiT` as u(z, r, t, *, clip_f, sync_f, text_f) in the project's convention."""

    def __init__(self, net: MMDiT | torch.nn.Module, convention: str | None = None) -> None:
        self.net = net
        # A DDP wrapper hides `.config`; the convention can then be passed explicitly.
        self.convention = convention or net.config.time_convention
        if self.convention not in ("meanflow", "mmaudio"):
            raise ValueError(f"unknown time convention {self.convention!r}")

    def __call__(
        self, z: torch.Tensor, r: torch.Tensor, t: torch.Tensor, *, clip_f, sync_f, text_f,
        w: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = t - r
        # w (the guidance scale of a `guidance_input` network) is passed only when given, so
        # modules without the argument keep working.
        extra = {} if w is None else {"w": w}
        if self.convention == "mmaudio":
            return -self.net(z, 1 - t, clip_f, sync_f, text_f, h=h, **extra)
        return self.net(z, t, clip_f, sync_f, text_f, h=h, **extra)
