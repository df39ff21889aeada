"""One training loop for flow matching and MeanFlow, on one process or many (torchrun, DDP).

The task supplies the model, the data of given global row indices, and the loss; the loop owns
optimisation, EMA, mixed precision, logging, checkpoints and exact resume. The data position is
the step itself (rows of step s are s * batch .. s * batch + batch - 1) and every random draw is
seeded by (seed, step, row), so resuming replays an uninterrupted run exactly.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from mfmjt_core.training.draws import Draws, draw
from mfmjt_core.training.train_config import ObjectiveConfig, TrainConfig

# The exit status of a run stopped to be continued later (sysexits' EX_TEMPFAIL): a scheduler
# or a wrapper script reruns the same command, which resumes from the checkpoint.
EXIT_RESUMABLE = 75
# The EMA weights at a session's stop, as a model file to evaluate while the run is unfinished
# (the finished run exports model.safetensors; a continued run overwrites the snapshot).
SNAPSHOT = "snapshot.safetensors"


class TrainingStopped(Exception):
    """Training stopped early (SIGTERM or the end of a session) after checkpointing step `step`."""

    def __init__(self, step: int, steps: int, reason: str, out_dir: Path) -> None:
        super().__init__(f"stopped ({reason}) after step {step} of {steps}; checkpoint in {out_dir}, "
                         f"the weights so far in {Path(out_dir) / SNAPSHOT}")
        self.step, self.steps, self.reason, self.out_dir = step, steps, reason, out_dir


class StopRequest:
    """Notes SIGTERM / SIGUSR1 while entered; training checks it after every step.

    Entered by the command for its whole run (so a signal between stages is kept too) and by
    `train` (for callers that did not); nested entries share the first one's flag.
    """

    _active: StopRequest | None = None

    def __init__(self) -> None:
        self.signal: str | None = None
        self._previous: dict[int, Any] = {}
        self._owner = False

    def __enter__(self) -> StopRequest:  # noqa: PYI034 (the outermost entry, maybe not self)
        if StopRequest._active is not None:
            return StopRequest._active
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGTERM, signal.SIGUSR1):
                self._previous[sig] = signal.signal(sig, self._note)
        StopRequest._active, self._owner = self, True
        return self

    def _note(self, signum, _frame) -> None:
        self.signal = signal.Signals(signum).name

    def __exit__(self, *_exc) -> None:
        if not self._owner:
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        StopRequest._active, self._owner = None, False


class TrainTask(Protocol):
    model: nn.Module  # every trainable module (network and any trained encoders)

    def latent_shape(self) -> Sequence[int]: ...

    def batch(self, indices: Sequence[int]) -> Any: ...  # CPU tensors; may run in worker processes

    def loss(
        self, forward_model: nn.Module, jvp_model: nn.Module, batch: Any, draws: Draws, objective: ObjectiveConfig
    ) -> tuple[torch.Tensor, dict[str, float]]: ...

    def export(self, state_dict: dict[str, torch.Tensor], path: Path) -> None: ...

    # Optional: `auxiliary`, a module trained beside the model (e.g. probes of an auxiliary
    # loss) that is optimised and kept in the training state but not averaged or exported.


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join the process group torchrun describes in the environment (nothing to do alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


class EMA:
    """Exponential moving average of parameters (buffers copied)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))  # short warm-up: early weights fade fast
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.lerp_(p.detach(), 1 - decay)
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)


def learning_rate(step: int, config: TrainConfig) -> float:
    o = config.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    if o.decay == "constant":
        return o.lr
    progress = (step - o.warmup_steps) / max(1, config.steps - o.warmup_steps)
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _format_eta(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def print_progress(record: dict) -> None:
    probes = "".join(f"  {k} {record[k]:.3f}" for k in sorted(record) if k.startswith("probe_"))
    print(
        f"step {record['step']}/{record['steps']}  loss {record['loss']:.4f}  mse {record['raw_mse']:.4f}{probes}  "
        f"lr {record['lr']:.2e}  {record['samples_per_s']:.1f} samples/s  ETA {_format_eta(record['eta_s'])}",
        file=sys.stderr,
        flush=True,
    )


def train(
    task: TrainTask,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    device: str | torch.device = "cpu",
    resume: bool = True,
    progress: Callable[[dict], None] | None = print_progress,
    stop_after: int | None = None,
    workers: int = 0,
    deadline: float | None = None,
    session_deadline: float | None = None,
) -> Path:
    """Train to `config.steps`; returns the path of the exported EMA model.

    `stop_after` stops after that many steps without exporting (a stand-in for a killed run);
    `deadline` (a `time.monotonic()` value) ends training early but exports, for time-boxed runs.
    `session_deadline` (also monotonic) and SIGTERM / SIGUSR1 end a *session*: the step under
    way finishes, the full state is checkpointed and `TrainingStopped` is raised; calling again
    with the same arguments continues bit for bit as if never stopped.
    """
    device = torch.device(device)
    dist = init_distributed(device)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    if config.batch_size % dist.world:
        raise ValueError(f"batch {config.batch_size} does not split over {dist.world} processes")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    model = task.model.to(device)
    forward_model: nn.Module = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        forward_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    auxiliary: nn.Module | None = getattr(task, "auxiliary", None)
    if auxiliary is not None:
        auxiliary.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if auxiliary is not None:
        params += [p for p in auxiliary.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.optim.lr, betas=config.optim.betas,
                            weight_decay=config.optim.weight_decay)
    ema = EMA(model, config.optim.ema_decay)

    start = 0
    state_path = out / "train_state.pt"
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        ema.shadow.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        if auxiliary is not None and "auxiliary" in state:
            auxiliary.load_state_dict(state["auxiliary"])
        start = int(state["step"])
    if dist.main:
        (out / "config.json").write_text(config.to_json())
        (out / "command.txt").write_text(" ".join(sys.argv) + "\n")

    local = config.batch_size // dist.world
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if config.precision == "bf16" else nullcontext()
    )
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    t0, seen = time.perf_counter(), 0
    window: dict[str, list[float]] = {}  # stats since the last log line, averaged when logged
    log = open(out / "log.jsonl", "a") if dist.main else None  # noqa: SIM115 (closed in the finally below)
    data = _StepBatches(task, start, end, config.batch_size, dist.rank, local)
    stop_owner = StopRequest()
    stop_request = stop_owner.__enter__()
    # a signal that came before this stage began (e.g. between stages) stops it at its start
    stopped: str | None = stop_request.signal if start < end else None
    if stopped:
        end = start
        if dist.main:
            _save_state(state_path, model, ema, opt, start, auxiliary)
    try:
        for step, batch in zip(range(start, end), _batches(data, workers) if start < end else ()):
            rows = data.rows(step)
            batch = to_device(batch, device)
            draws = draw(rows, step=step, seed=config.seed, shape=task.latent_shape(), objective=config.objective,
                         null_video=config.null_video, null_text=config.null_text).to(device)
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, config)
            model.train()
            if auxiliary is not None:
                auxiliary.train()
            with autocast:
                loss, stats = task.loss(forward_model, model, batch, draws, config.objective)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if auxiliary is not None and dist.world > 1:
                _average_gradients(auxiliary, dist.world)  # outside the DDP wrapper
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip)
            opt.step()
            ema.update(model, step)
            seen += config.batch_size
            done = step + 1
            step_stats = {**_mean_over_ranks(stats, dist, device), "grad_norm": float(grad_norm)}
            for key, value in step_stats.items():
                window.setdefault(key, []).append(value)
            if dist.main and (done % config.log_every == 0 or done == end):
                elapsed = time.perf_counter() - t0
                record = {
                    "step": done, "steps": config.steps, "lr": opt.param_groups[0]["lr"],
                    "samples_per_s": seen / elapsed, "eta_s": (config.steps - done) * elapsed / max(1, done - start),
                    **{key: sum(values) / len(values) for key, values in window.items()},
                }
                window.clear()
                log.write(json.dumps(record) + "\n")
                log.flush()
                if progress is not None:
                    progress(record)
            now = time.monotonic()
            out_of_time = deadline is not None and _agree(now > deadline, dist, device)
            if done < end:
                reason = stop_request.signal or ("session" if session_deadline is not None
                                                 and now > session_deadline else None)
                if _agree(reason is not None, dist, device):
                    stopped = reason or "signal on another process"
            if dist.main and (done % config.checkpoint_every == 0 or done == end or out_of_time or stopped):
                _save_state(state_path, model, ema, opt, done, auxiliary)
            if out_of_time or stopped:
                end = done
                if dist.main:
                    log.write(json.dumps({"step": done, "stopped": stopped or "deadline"}) + "\n")
                break
    finally:
        stop_owner.__exit__()
        if log is not None:
            log.close()
    export = out / "model.safetensors"
    if stopped is not None:
        if dist.main and end > start:
            task.export(ema.shadow.state_dict(), out / SNAPSHOT)
        if dist.world > 1:
            torch.distributed.barrier()
        raise TrainingStopped(end, config.steps, stopped, out)
    if dist.main and (end == config.steps or deadline is not None):
        task.export(ema.shadow.state_dict(), export)
    if dist.world > 1:
        torch.distributed.barrier()
    return export


def _mean_over_ranks(stats: dict[str, float], dist: Dist, device: torch.device) -> dict[str, float]:
    """Each process's stats cover its share of the batch; the log shows the global batch's."""
    if dist.world == 1 or not stats:
        return stats
    keys = sorted(stats)
    values = torch.tensor([float(stats[k]) for k in keys], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(values)
    return {k: float(v) / dist.world for k, v in zip(keys, values.tolist())}


def _average_gradients(module: nn.Module, world: int) -> None:
    for p in module.parameters():
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad.div_(world)


def _agree(flag: bool, dist: Dist, device: torch.device) -> bool:
    """Every process takes rank 0's decision (clocks differ between processes)."""
    if dist.world == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    torch.distributed.broadcast(value, src=0)
    return bool(value.item())


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class _StepBatches(torch.utils.data.Dataset):
    """Item k = this process's rows of step `start + k`; lets DataLoader workers prefetch."""

    def __init__(self, task: TrainTask, start: int, end: int, batch: int, rank: int, local: int) -> None:
        self.task, self.start, self.end, self.batch, self.rank, self.local = task, start, end, batch, rank, local

    def rows(self, step: int) -> range:
        first = step * self.batch + self.rank * self.local
        return range(first, first + self.local)

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, k: int):
        return self.task.batch(self.rows(self.start + k))


def _init_worker(_worker: int) -> None:
    # Each worker makes whole batches; intra-op threads in every worker would oversubscribe
    # the cores (seen: 14 workers on 16 cores delivering 5 clips/s each).
    torch.set_num_threads(1)
    # The stop signals are the trainer's: SLURM, systemd and `kill -- -PGID` send them to every
    # process of the job, and a worker killed by one took the trainer down before it could
    # checkpoint. The trainer shuts its workers down itself when it stops.
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)


def _batches(data: _StepBatches, workers: int):
    if workers <= 0:
        return (data[k] for k in range(len(data)))
    loader = torch.utils.data.DataLoader(
        data, batch_size=None, shuffle=False, num_workers=workers, prefetch_factor=4, persistent_workers=False,
        worker_init_fn=_init_worker,
    )
    return iter(loader)


def _save_state(
    path: Path, model: nn.Module, ema: EMA, opt: torch.optim.Optimizer, step: int, auxiliary: nn.Module | None
) -> None:
    tmp = path.with_suffix(".tmp")
    state = {"model": model.state_dict(), "ema": ema.shadow.state_dict(), "optimizer": opt.state_dict(), "step": step}
    if auxiliary is not None:
        state["auxiliary"] = auxiliary.state_dict()
    torch.save(state, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a broken checkpoint
