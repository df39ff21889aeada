"""Run under `torchrun --nproc_per_node 2 -m tests.scale.ddp_worker DATA OUT` (gloo, CPU).

1. One MeanFlow step of `FeatureTask` through the training loop, the prediction through the
   DDP-wrapped module: each rank saves the gradients the optimiser sees.
2. The same step with `bypass_ddp=True` (the prediction through the unwrapped module).
3. A run of 4 steps, and the same run stopped after 2 steps and resumed.
The test compares (1) and (2) with one process on the same global batch, and (3)'s logs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from mfmjt_core.training.feature_task import FeatureTask
from mfmjt_core.training.features_store import FeatureSet
from mfmjt_core.training.loop import train
from tests.scale.helpers import one_step_config, resume_config, tiny_network


def task(data: Path, *, bypass: bool = False, seed: int = 5) -> FeatureTask:
    return FeatureTask(tiny_network(), [FeatureSet(data)], seed=seed, bypass_ddp=bypass)


def gradients_of_one_step(data: Path, out: Path, *, bypass: bool = False) -> list[torch.Tensor]:
    """The gradients the optimiser steps with (after DDP's all-reduce, if any)."""
    seen: list[torch.Tensor] = []

    def capture(optimizer, args, kwargs):
        seen.extend(p.grad.detach().clone() for group in optimizer.param_groups for p in group["params"])

    handle = register_optimizer_step_pre_hook(capture)
    try:
        config = one_step_config()
        # stop after the first of two steps: nothing exported, the step is the same
        train(task(data, bypass=bypass, seed=config.seed), config, out, progress=None, stop_after=1)
    finally:
        handle.remove()
    return seen


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    rank = int(os.environ["RANK"])
    for mode in ("ddp", "bypass"):
        grads = gradients_of_one_step(data, out / mode, bypass=mode == "bypass")
        torch.save(grads, out / f"grads_{mode}_rank{rank}.pt")
    config = resume_config()
    train(task(data, seed=config.seed), config, out / "straight", progress=None)
    train(task(data, seed=config.seed), config, out / "resumed", progress=None, stop_after=2)
    train(task(data, seed=config.seed), config, out / "resumed", progress=None)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
