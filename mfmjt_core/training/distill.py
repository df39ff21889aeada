"""Distilling a flow-matching teacher into a one-step (and few-step) average-velocity student.

The teacher makes every target, so no audio is needed, only conditions. From the student's own
starting noise the teacher solves its (optionally guided) probability-flow ODE with Euler steps
on a uniform grid from t = 1 to t = 0; that trajectory gives two kinds of targets:

- chords: for grid times t > r, the average velocity that carries the teacher's state at t to
  its state at r, u(z_t, r, t) = (z_t - z_r) / (t - r). The pair (1, 0) is the one-step map,
  pairs on a coarser grid are few-step maps (the flow map of Decoupled MeanFlow, here fitted to
  the teacher's solutions as in Frieren's distillation of a guided vector field);
- velocities: for r = t the teacher's guided instantaneous velocity at z_t, so the student
  keeps the boundary condition u(z, t, t) = v(z, t) of a flow map.

A MeanFlow teacher can instead take a few jumps of its average velocity on a grid of its own
(`TeacherPath`), with guidance only on the jumps near noise (guidance in a limited interval,
Kynkaanniemi et al. 2024): the student then learns in one jump what the teacher's guided jumps
make. Such a path has chords only (its jumps are not instantaneous velocities).

Guidance is applied by the teacher, so the student learns the guided field and samples without
a second (unconditional) branch. The functions here are pure: models are callables
u(z, r, t, **cond) in the project's convention (t = 1 noise, t = 0 data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from mfmjt_core.flows.guidance import Guidance, guided
from mfmjt_core.flows.paths import expand_like

Model = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class PairMix:
    """How a row's (t, r) pair is drawn on the teacher's grid of `steps` Euler steps."""

    steps: int = 25  # teacher Euler steps from 1 to 0
    one_step: float = 0.5  # share of rows with the whole interval (t, r) = (1, 0)
    velocity: float = 0.15  # share of rows with r = t (the teacher's velocity)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("teacher steps must be >= 1")
        if not (0 <= self.one_step and 0 <= self.velocity and self.one_step + self.velocity <= 1):
            raise ValueError("one_step and velocity shares must be >= 0 and sum to at most 1")


def time_grid(steps: int, device=None) -> torch.Tensor:
    """(steps + 1,) times from 1 (noise) down to 0 (data)."""
    return torch.linspace(1.0, 0.0, steps + 1, device=device, dtype=torch.float32)


@dataclass(frozen=True)
class TeacherPath:
    """How the teacher solves from noise to data: the times it steps on, the velocity it steps
    with, and the steps its guidance applies to."""

    times: tuple[float, ...]  # from 1 (noise) down to 0 (data)
    average: bool = False  # MeanFlow jumps u(z, t_next, t); else Euler steps u(z, t, t)
    guided_above: float = 0.0  # guidance on the steps that start above this time (0: every step)

    def __post_init__(self) -> None:
        t = self.times
        if len(t) < 2 or t[0] != 1.0 or t[-1] != 0.0 or any(a <= b for a, b in zip(t, t[1:])):
            raise ValueError(f"the teacher's times must fall from 1 to 0: {t}")
        if not 0.0 <= self.guided_above < 1.0:
            raise ValueError(f"guidance must apply above a time in [0, 1): {self.guided_above}")

    @classmethod
    def uniform(cls, steps: int, **kw) -> TeacherPath:
        return cls(tuple(time_grid(steps).tolist()), **kw)

    @property
    def steps(self) -> int:
        return len(self.times) - 1

    def grid(self, device=None) -> torch.Tensor:
        return torch.tensor(self.times, device=device, dtype=torch.float32)

    @property
    def is_uniform_euler(self) -> bool:
        """The generator's own flow-matching sampler takes this path (so a model file replays it)."""
        return self == TeacherPath.uniform(self.steps)  # Euler, every step guided, the uniform grid


@torch.no_grad()
def teacher_trajectory(
    teacher: Model,
    noise: torch.Tensor,
    cond: Mapping[str, torch.Tensor],
    *,
    steps: int | None = None,
    guidance: Guidance | None = None,
    path: TeacherPath | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's solution from `noise` at t = 1: (states (steps + 1, B, ...) at the grid
    times, velocities (steps, B, ...) it stepped with, guided when `guidance` is given). The
    path defaults to `steps` uniform Euler steps, every one guided."""
    path = path or TeacherPath.uniform(steps)
    grid = path.grid(noise.device)
    ones = torch.ones(noise.shape[0], device=noise.device, dtype=noise.dtype)
    z, states, velocities = noise, [noise], []
    for i in range(path.steps):
        t = ones * grid[i]
        r = ones * grid[i + 1] if path.average else t  # r = t: the instantaneous velocity
        v = guided(teacher, z, r, t, cond, guidance if path.times[i] > path.guided_above else None)
        z = z - (grid[i] - grid[i + 1]).to(z.dtype) * v
        states.append(z)
        velocities.append(v)
    return torch.stack(states), torch.stack(velocities)


def draw_pairs(n: int, mix: PairMix, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(start, end) grid indices of n rows, start <= end (index 0 is t = 1, index steps is t = 0).

    A row is the whole interval (share `one_step`), a velocity row start = end < steps (share
    `velocity`), or a chord between two grid points drawn uniformly.
    """
    k = mix.steps
    kind, a, b = torch.rand(3, n, generator=generator)
    start = torch.empty(n, dtype=torch.long)
    end = torch.empty(n, dtype=torch.long)
    for i in range(n):
        if kind[i] < mix.one_step:
            start[i], end[i] = 0, k
        elif kind[i] < mix.one_step + mix.velocity:
            start[i] = end[i] = min(int(a[i] * k), k - 1)
        else:
            s = min(int(a[i] * k), k - 1)  # start in [0, k - 1], end in [s + 1, k]
            start[i], end[i] = s, s + 1 + min(int(b[i] * (k - s)), k - s - 1)
    return start, end


def pair_targets(
    states: torch.Tensor, velocities: torch.Tensor, group: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
    grid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z_t, r, t, target) per row: row i reads trajectory `group[i]` between grid indices
    start[i] (time t) and end[i] (time r); a chord (z_t - z_r) / (t - r), or the teacher's
    velocity at z_t when start == end. `grid`: the trajectory's times (default uniform)."""
    steps = velocities.shape[0]
    grid = time_grid(steps, states.device) if grid is None else grid.to(states.device)
    z_t = states[start, group]
    z_r = states[end, group]
    t, r = grid[start], grid[end]
    chord = (z_t - z_r) / expand_like((t - r).clamp(min=1e-12), z_t)
    velocity = velocities[start.clamp(max=steps - 1), group]
    target = torch.where(expand_like(start == end, z_t), velocity, chord)
    return z_t, r, t, target


def distill_loss(
    student: Model,
    z_t: torch.Tensor,
    r: torch.Tensor,
    t: torch.Tensor,
    target: torch.Tensor,
    cond: Mapping[str, torch.Tensor],
    *,
    weight_p: float = 0.0,
    weight_c: float = 1e-3,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared error of the student's u(z_t, r, t) against the teacher's target, optionally
    with MeanFlow's adaptive weight sg(1 / (L + c)^p) per row (p = 0: plain MSE)."""
    pred = student(z_t, r, t, **dict(cond))
    err = (pred.float() - target.float()).pow(2).flatten(1).mean(1)
    weight = 1.0 / (err.detach() + weight_c).pow(weight_p) if weight_p else torch.ones_like(err)
    loss = (weight * err).mean()
    return loss, {"loss": loss.item(), "raw_mse": err.mean().item()}
