"""Build modules without hidden random draws: on the meta device, then materialised.

Module constructors draw their default initialisation from torch's global generator. Building
on the meta device skips that (and the time it takes for large encoders); `materialize` then
allocates real storage and either leaves it for a checkpoint to fill or initialises it from an
explicit `torch.Generator`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)

_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def build_on_meta(factory: Callable[[], M]) -> M:
    """Construct a module without allocating or initialising its parameters."""
    with torch.device("meta"):
        return factory()


def truncated_normal(
    shape: torch.Size | tuple[int, ...], std: float, generator: torch.Generator
) -> torch.Tensor:
    """Normal(0, std) cut at +-2 std, by inverting the CDF (nn.init's version is slow on CPU)."""
    edge = math.erf(2 / math.sqrt(2))  # CDF mass within +-2 std, mapped to (-edge, edge)
    values = torch.empty(shape, device=generator.device).uniform_(-edge, edge, generator=generator)
    return values.erfinv_().mul_(std * math.sqrt(2))


def init_parameters(
    module: nn.Module, generator: torch.Generator, std: float | None = 0.02
) -> None:
    """Deterministic init: truncated normal weights, zero biases, unit norm scales.

    `std=None` scales each weight by 1/sqrt(fan_in) (keeps activations O(1) through conv
    stacks); a number gives the ViT-style fixed spread.
    """
    norm_params = {
        id(p) for m in module.modules() if isinstance(m, _NORMS) for p in m.parameters(False)
    }
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif id(p) in norm_params:
                p.fill_(1.0)
            else:
                # draw on the generator's device, so CPU and GPU builds get the same values
                fan_in = p[0].numel() if p.ndim > 1 else p.numel()
                p.copy_(truncated_normal(p.shape, std if std is not None else fan_in**-0.5,
                                         generator))


def materialize(
    module: M,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    std: float | None = 0.02,
) -> M:
    """Give a meta-built module real (uninitialised) storage; initialise it if `generator`."""
    module = module.to_empty(device=device or "cpu")
    if generator is not None:
        init_parameters(module, generator, std)
    return module
