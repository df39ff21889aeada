"""The linear noise path shared by flow matching and MeanFlow, and time sampling."""

from __future__ import annotations

import torch


def expand_like(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) to broadcast against x."""
    return t.view(-1, *([1] * (x.dim() - 1)))


def interpolate(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """z_t = (1 - t) x + t eps."""
    t = expand_like(t, x)
    return (1 - t) * x + t * noise


def velocity(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Conditional velocity dz_t/dt = eps - x."""
    return noise - x


def logit_normal(
    n: int, *, mu: float, sigma: float, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """sigmoid(N(mu, sigma^2)) samples in (0, 1)."""
    normal = torch.randn(n, generator=generator, device=device)
    return torch.sigmoid(normal * sigma + mu)


def sample_t_r(
    n: int,
    *,
    mu: float = -0.4,
    sigma: float = 1.0,
    equal_fraction: float = 0.75,
    generator: torch.Generator | None = None,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MeanFlow's (t, r): two logit-normal draws, t = max, r = min; a fixed share of rows gets r = t.

    Those rows are plain flow matching; the rest learn average velocities over [r, t].
    """
    a = logit_normal(n, mu=mu, sigma=sigma, generator=generator, device=device)
    b = logit_normal(n, mu=mu, sigma=sigma, generator=generator, device=device)
    t, r = torch.maximum(a, b), torch.minimum(a, b)
    n_equal = round(equal_fraction * n)
    equal_rows = torch.randperm(n, generator=generator, device=device)[:n_equal]
    r = r.clone()
    r[equal_rows] = t[equal_rows]
    return t, r


def draw_noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
