"""Classifier-free guidance for one- and few-step samplers.

MF-MJT's paper says a scalar rescales the unconditional prediction so guided one-step samples do
not distort, but its exact formula is not public (research/method.md 1.4). The modes here are the
two published candidates plus the plain and unguided ones, switchable per request:

- `none`: u_c only (one network evaluation).
- `plain`: u_u + w (u_c - u_u)  (MMAudio's CFG; w = 1 gives u_c).
- `zero_star` (default): s* = <u_c, u_u> / ||u_u||^2 per sample, u = s* u_u + w (u_c - s* u_u)
  (CFG-Zero*'s optimised scale, arXiv 2503.18886).
- `std`: plain CFG rescaled to the per-sample std of u_c, mixed with weight phi
  (Lin et al., arXiv 2305.08891).
Both branches run as one batched forward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

MODES = ("none", "plain", "zero_star", "std")
_EPS = 1e-8


@dataclass(frozen=True, eq=False)
class Guidance:
    """Guidance settings plus the unconditional conditions (e.g. learned empty features)."""

    scale: float | torch.Tensor = 4.5  # or one per sample, shaped to broadcast over it ((B, 1, ...))
    mode: str = "zero_star"
    uncond: Mapping[str, torch.Tensor] | None = None
    phi: float = 0.7  # only for mode="std"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown guidance mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.mode != "none" and self.uncond is None:
            raise ValueError(f"guidance mode {self.mode!r} needs unconditional conditions")


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def combine(
    u_cond: torch.Tensor, u_uncond: torch.Tensor, scale: float, mode: str = "zero_star", phi: float = 0.7
) -> torch.Tensor:
    """Guided prediction from the two branches (shapes (B, ...))."""
    if mode == "none":
        return u_cond
    if mode == "plain":
        return u_uncond + scale * (u_cond - u_uncond)
    if mode == "zero_star":
        c, u = _per_sample(u_cond), _per_sample(u_uncond)
        s = (c * u).sum(1) / (u.pow(2).sum(1) + _EPS)
        s = s.view(-1, *([1] * (u_cond.dim() - 1)))
        return s * u_uncond + scale * (u_cond - s * u_uncond)
    if mode == "std":
        guided = u_uncond + scale * (u_cond - u_uncond)
        ratio = _per_sample(u_cond).std(1) / (_per_sample(guided).std(1) + _EPS)
        rescaled = guided * ratio.view(-1, *([1] * (u_cond.dim() - 1)))
        return phi * rescaled + (1 - phi) * guided
    raise ValueError(f"unknown guidance mode {mode!r}")


def _concat(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if a.keys() != b.keys():
        raise ValueError(f"conditional and unconditional inputs differ: {sorted(a)} vs {sorted(b)}")
    return {k: torch.cat([a[k], b[k].expand_as(a[k]) if b[k].shape[0] == 1 else b[k]]) for k in a}


def guided(
    model: Callable[..., torch.Tensor],
    z: torch.Tensor,
    r: torch.Tensor,
    t: torch.Tensor,
    cond: Mapping[str, torch.Tensor] | None,
    guidance: Guidance | None,
) -> torch.Tensor:
    """Evaluate the model once (no guidance) or on the stacked [cond; uncond] batch."""
    cond = dict(cond or {})
    if guidance is None or guidance.mode == "none":
        return model(z, r, t, **cond)
    both = model(torch.cat([z, z]), torch.cat([r, r]), torch.cat([t, t]), **_concat(cond, guidance.uncond))
    u_cond, u_uncond = both.chunk(2)
    return combine(u_cond, u_uncond, guidance.scale, guidance.mode, guidance.phi)
