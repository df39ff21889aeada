"""The one sampling core: starting noise, sampler choice, guidance and integration.

The generator, the batched evaluation and the benchmark all turn conditions and noise into
latents here, so a change to how one step is taken (a guidance mode, a sampler, a default)
happens once and the three stay equal (a test checks they give identical latents).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mfmjt_core.flows import Guidance, sample, sample_euler
from mfmjt_core.model import SamplingSettings
from mfmjt_core.network.adapter import AverageVelocity

SAMPLERS: dict[str, Callable] = {"meanflow": sample, "euler": sample_euler}


def starting_noise(seeds, length: int, channels: int, *, window: int = 0, temperature: float = 1.0) -> torch.Tensor:
    """The noise a generation starts from: (len(seeds), length, channels), one seeded draw per
    variation and window, scaled by the temperature (the evaluation's batches draw the same)."""
    return temperature * torch.stack([
        torch.randn(length, channels, generator=torch.Generator().manual_seed(s * 1_000_003 + window))
        for s in seeds
    ])


def sampler_for(objective: str, choice: str = "auto") -> Callable:
    """MeanFlow's average-velocity steps for MeanFlow models, Euler steps of the instantaneous
    velocity for flow-matching ones; `choice` names one explicitly (the benchmark's rows)."""
    if choice == "auto":
        choice = "meanflow" if objective == "meanflow" else "euler"
    if choice not in SAMPLERS:
        raise ValueError(f"unknown sampler {choice!r}; known: auto, {', '.join(SAMPLERS)}")
    return SAMPLERS[choice]


def sample_latents(
    net,
    objective: str,
    cond: dict[str, torch.Tensor],
    noise: torch.Tensor,
    settings: SamplingSettings,
    *,
    negative_text_f: torch.Tensor | None = None,
    check: Callable[[float], None] | None = None,
    forward: torch.nn.Module | None = None,
) -> torch.Tensor:
    """Normalised latents (V, N, C) from `noise` under `cond` (each (V, ...)).

    Guidance applies when `settings.guided`; its unconditional branch is the network's empty
    conditions, with `negative_text_f` in place of the empty text when given. A network with
    guidance as an input (`config.guidance_input`) is told w = `settings.guidance` instead (1
    under rescale "none", which asks for the conditional prediction alone): no sampling-time CFG,
    one evaluation per step at any scale, and no negative prompt. `check(done)` runs
    before every network evaluation (progress and cancellation); `forward` replaces the network
    in the evaluations (a compiled module) while `net` still provides the empty conditions.
    """
    guidance = None
    if getattr(net.config, "guidance_input", False):
        w = settings.guidance if settings.rescale != "none" else 1.0
        cond = {**cond, "w": torch.full((noise.shape[0],), float(w), device=noise.device)}
    elif settings.guided:
        uncond = net.empty_conditions(noise.shape[0], cond["clip_f"].shape[1], cond["sync_f"].shape[1],
                                      negative_text_f=negative_text_f)
        guidance = Guidance(scale=settings.guidance, mode=settings.rescale, uncond=uncond)
    velocity = AverageVelocity(forward if forward is not None else net, net.config.time_convention)
    sampler = sampler_for(objective, settings.sampler)
    return sampler(velocity, noise, steps=settings.steps, cond=cond, guidance=guidance, check=check)
