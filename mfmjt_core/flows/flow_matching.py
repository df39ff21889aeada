"""Flow matching (r = t) in the project's convention: loss and Euler sampler."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from mfmjt_core.flows.guidance import Guidance, guided
from mfmjt_core.flows.paths import draw_noise, interpolate, logit_normal, velocity


def fm_loss(
    model: Callable[..., torch.Tensor],
    x: torch.Tensor,
    *,
    cond: Mapping[str, torch.Tensor] | None = None,
    noise: torch.Tensor | None = None,
    t: torch.Tensor | None = None,
    mu: float = 0.0,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared error of u(z_t, t, t) against v = eps - x, t ~ logit-normal(mu, sigma)."""
    noise = draw_noise(x, generator) if noise is None else noise
    if t is None:
        t = logit_normal(x.shape[0], mu=mu, sigma=sigma, generator=generator, device=x.device)
    z = interpolate(x, noise, t)
    pred = model(z, t, t, **dict(cond or {}))
    loss = (pred.float() - velocity(x, noise).float()).pow(2).mean()
    return loss, {"loss": loss.item(), "raw_mse": loss.item()}


def integrate(
    model: Callable[..., torch.Tensor],
    noise: torch.Tensor,
    *,
    steps: int,
    average: bool,
    cond: Mapping[str, torch.Tensor] | None = None,
    guidance: Guidance | None = None,
    check: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """From t = 1 to t = 0 on a uniform grid: z <- z - (t_i - t_{i+1}) u(z, r, t_i).

    `average=True` asks for the average velocity over the step (r = t_{i+1}, MeanFlow);
    otherwise the instantaneous one (r = t_i, Euler for flow matching). `check(done)` runs
    before every network evaluation with the fraction of steps done (0 <= done < 1): it may
    raise to stop the loop, so a cancel takes effect within one evaluation.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    grid = torch.linspace(1.0, 0.0, steps + 1, device=noise.device, dtype=torch.float32)
    z = noise
    ones = torch.ones(noise.shape[0], device=noise.device, dtype=noise.dtype)
    for i, (t_now, t_next) in enumerate(zip(grid[:-1], grid[1:])):
        if check is not None:
            check(i / steps)
        t = ones * t_now
        r = ones * t_next if average else t
        u = guided(model, z, r, t, cond, guidance)
        z = z - (t_now - t_next).to(z.dtype) * u
    return z


def sample_euler(
    model: Callable[..., torch.Tensor],
    noise: torch.Tensor,
    *,
    steps: int = 25,
    cond: Mapping[str, torch.Tensor] | None = None,
    guidance: Guidance | None = None,
    check: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Euler integration of the instantaneous velocity (r = t) from noise to data."""
    return integrate(model, noise, steps=steps, average=False, cond=cond, guidance=guidance, check=check)
