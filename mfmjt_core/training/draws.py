"""Per-sample random draws of a training step.

Every draw of a row (noise, t, r, condition dropout, guidance scale) comes from a generator seeded by (run seed,
step, global row index). So a batch split across any number of processes sees exactly the draws
one process would, and a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mfmjt_core.training.train_config import ObjectiveConfig

_MASK = (1 << 63) - 1


def row_seed(seed: int, step: int, index: int, stream: int = 0) -> int:
    return (((seed * 1_000_003 + step) * 1_000_033 + index) * 7_919 + stream) & _MASK


@dataclass(frozen=True)
class Draws:
    noise: torch.Tensor  # (B, *shape)
    t: torch.Tensor  # (B,)
    r: torch.Tensor  # (B,)
    drop_video: torch.Tensor  # (B,) bool
    drop_text: torch.Tensor  # (B,) bool
    omega: torch.Tensor | None = None  # (B,) guidance scales in `objective.omega_range` (else 1)

    def to(self, device: torch.device | str) -> Draws:
        fields = (self.noise, self.t, self.r, self.drop_video, self.drop_text, self.omega)
        return Draws(*(None if x is None else x.to(device) for x in fields))


def draw(
    indices: Sequence[int],
    *,
    step: int,
    seed: int,
    shape: Sequence[int],
    objective: ObjectiveConfig,
    null_video: float,
    null_text: float,
) -> Draws:
    noises, ts, rs, dv, dt, omegas = [], [], [], [], [], []
    low, high = objective.omega_range or (1.0, 1.0)
    for index in indices:
        g = torch.Generator().manual_seed(row_seed(seed, step, index))
        noises.append(torch.randn(*shape, generator=g))
        u = torch.rand(5, generator=g)
        a, b = torch.sigmoid(torch.randn(2, generator=g) * objective.sigma + objective.mu)
        if objective.kind == "fm":  # one logit-normal draw (the max of two would favour noise)
            t = r = a
        else:
            t, r = max(a, b), min(a, b)
            if u[0] < objective.equal_fraction:
                r = t
            elif u[4] < objective.endpoint_fraction:
                t, r = torch.tensor(1.0), torch.tensor(0.0)
        ts.append(t)
        rs.append(r)
        dv.append(bool(u[1] < null_video))
        dt.append(bool(u[2] < null_text))
        # five uniforms were drawn before omega_range (u[3]) and endpoint_fraction (u[4]) used
        # them, so adding either changed no other draw
        omegas.append(low + (high - low) * float(u[3]))
    return Draws(
        noise=torch.stack(noises),
        t=torch.stack(ts).float(),
        r=torch.stack(rs).float(),
        drop_video=torch.tensor(dv),
        drop_text=torch.tensor(dt),
        omega=torch.tensor(omegas, dtype=torch.float32),
    )
