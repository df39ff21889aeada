"""Jobs, the bounded fair queue, and the worker threads that run jobs on a generator.

The I/O loop (server.py) owns every socket and every job's bookkeeping; workers only take jobs
from the queue and report back through `emit`, a thread-safe callable the server provides.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mfmjt_daemon import protocol

from mfmjt_core.errors import CancelledError, MfmjtError
from mfmjt_core.pipeline.types import CancelToken, GenerateRequest, GenerationResult, ProgressCallback

log = logging.getLogger("mfmjt_daemon.jobs")

PROGRESS_INTERVAL_S = 0.1  # at most ten progress events a second per job, plus stage changes


class GeneratorLike(Protocol):
    """What the daemon needs from a model: `mfmjt_core.pipeline.Generator` fits."""

    def describe(self) -> dict: ...

    def run(self, request: GenerateRequest, *, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None) -> GenerationResult: ...


@dataclass(eq=False)
class Job:
    """One generate request, from the moment it is accepted until its answer is sent."""

    client: bytes  # ZeroMQ routing id of the connection that sent it
    id: str
    request: GenerateRequest
    fingerprint: str  # re-sent requests must match it to count as the same job
    temp_file: Path | None = None  # received video bytes; deleted when the job ends
    token: CancelToken = field(default_factory=CancelToken)
    submitted: float = field(default_factory=time.monotonic)
    state: str = "queued"  # queued | running | parked (its client is away) | done | failed
    seq: int = 0  # order in which jobs started (1, 2, ...), 0 while queued
    started: float | None = None
    stage: str = "queued"
    fraction: float = 0.0
    cancel_code: str | None = None  # the error code to answer with once cancelled
    cancel_message: str | None = None

    @property
    def key(self) -> tuple[bytes, str]:
        return (self.client, self.id)

    def cancel(self, code: str = protocol.CANCELLED, message: str | None = None) -> None:
        if self.cancel_code is None:
            self.cancel_code, self.cancel_message = code, message
        self.token.cancel()

    def park(self) -> None:
        """Back to a fresh, waiting state outside the queue: its client is away (a stopped run
        starts again from the beginning, with the same seed, if the client comes back)."""
        self.state, self.stage, self.fraction, self.started, self.seq = "parked", "queued", 0.0, None, 0
        self.token, self.cancel_code, self.cancel_message = CancelToken(), None, None

    def eta_s(self, now: float) -> float | None:
        """Seconds left, extrapolated from elapsed time and fraction done; None until known."""
        if self.started is None or self.fraction < 0.05:
            return None
        elapsed = now - self.started
        return max(0.0, elapsed * (1.0 - self.fraction) / self.fraction)

    def discard_temp_file(self) -> None:
        if self.temp_file is not None:
            with contextlib.suppress(OSError):
                self.temp_file.unlink()
            self.temp_file = None


class QueueFull(Exception):
    """The queue holds its limit of waiting jobs."""


class FairQueue:
    """Bounded job queue: one FIFO per client, the least recently served client goes first.

    So three clients with three jobs each start in the order A1 B1 C1 A2 B2 C2 ..., however
    the jobs arrived. Thread-safe.
    """

    def __init__(self, limit: int, per_client: int | None = None) -> None:
        self.limit = limit
        self.per_client = per_client  # one client's waiting jobs; None: only the total limit
        self._lanes: OrderedDict[bytes, deque[Job]] = OrderedDict()
        self._served: OrderedDict[bytes, int] = OrderedDict()  # client -> tick of last start
        self._ticks = itertools.count(1)
        self._count = 0
        self._closed = False
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return self._count

    def put(self, job: Job, *, force: bool = False) -> int:
        """Queue `job`; returns its position (1 = next). Raises QueueFull unless `force` (jobs
        that were accepted once and come back, e.g. when their client reconnects)."""
        with self._cond:
            if self._closed:
                raise QueueFull("the daemon is shutting down")
            if not force and self._count >= self.limit:
                raise QueueFull(f"the queue is full ({self.limit} jobs waiting)")
            waiting = len(self._lanes.get(job.client, ()))
            if not force and self.per_client is not None and waiting >= self.per_client:
                raise QueueFull(f"this client already has {waiting} jobs waiting (the limit per client is "
                                f"{self.per_client})")
            self._lanes.setdefault(job.client, deque()).append(job)
            self._count += 1
            self._cond.notify()
            return self._position(job)

    def take(self, timeout: float | None = None) -> Job | None:
        """The next job to run (marked running), or None once closed or after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._count and not self._closed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            if self._closed:
                return None
            client = min(self._lanes, key=lambda c: self._served.get(c, 0))
            lane = self._lanes[client]
            job = lane.popleft()
            if not lane:
                del self._lanes[client]
            self._count -= 1
            tick = next(self._ticks)
            self._served[client] = tick
            self._served.move_to_end(client)
            while len(self._served) > 4096:  # forget long-gone clients
                self._served.popitem(last=False)
            job.state, job.seq, job.started, job.stage = "running", tick, time.monotonic(), "starting"
            return job

    def remove(self, job: Job) -> bool:
        """Take a waiting job out of the queue; False when it is not waiting (any more)."""
        with self._cond:
            lane = self._lanes.get(job.client)
            if lane is None or job not in lane:
                return False
            lane.remove(job)
            if not lane:
                del self._lanes[job.client]
            self._count -= 1
            return True

    def position(self, job: Job) -> int | None:
        """1-based place in the start order if nothing else arrives; None when not waiting."""
        with self._cond:
            return self._position(job)

    def _position(self, job: Job) -> int | None:
        # Simulate the selection rule on a copy: cheap at these queue sizes (tens of jobs).
        lanes = {c: list(q) for c, q in self._lanes.items()}
        served = dict(self._served)
        for n in range(1, self._count + 1):
            client = min(lanes, key=lambda c: served.get(c, 0))
            nxt = lanes[client].pop(0)
            if nxt is job:
                return n
            if not lanes[client]:
                del lanes[client]
            served[client] = max(served.values(), default=0) + 1
        return None

    def close(self) -> list[Job]:
        """Stop handing out jobs; return the ones still waiting (in queue order)."""
        with self._cond:
            self._closed = True
            left = [job for lane in self._lanes.values() for job in lane]
            self._lanes.clear()
            self._count = 0
            self._cond.notify_all()
            return left


@dataclass
class Answer:
    """The final message of a finished job, kept so a re-sent request gets it again."""

    fingerprint: str
    state: str  # done | failed
    header: dict[str, Any]
    blobs: list[Any]
    expires: float = 0.0

    @property
    def nbytes(self) -> int:
        return sum(memoryview(b).nbytes for b in self.blobs)


class AnswerCache:
    """Answers by job key, dropped after `ttl_s` or, oldest first, beyond `max_bytes`."""

    def __init__(self, max_bytes: int, ttl_s: float, max_entries: int = 1024) -> None:
        self.max_bytes, self.ttl_s, self.max_entries = max_bytes, ttl_s, max_entries
        self._items: OrderedDict[tuple[bytes, str], Answer] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[bytes, str]) -> Answer | None:
        return self._items.get(key)

    def put(self, key: tuple[bytes, str], answer: Answer) -> None:
        self.pop(key)
        if answer.nbytes > self.max_bytes:
            return
        answer.expires = time.monotonic() + self.ttl_s
        self._items[key] = answer
        self._bytes += answer.nbytes
        while self._bytes > self.max_bytes or len(self._items) > self.max_entries:
            self.pop(next(iter(self._items)))

    def pop(self, key: tuple[bytes, str]) -> None:
        answer = self._items.pop(key, None)
        if answer is not None:
            self._bytes -= answer.nbytes

    def expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, a in self._items.items() if a.expires <= now]:
            self.pop(key)


Emit = Callable[[tuple[Any, ...]], None]


class Worker(threading.Thread):
    """Runs queued jobs one at a time on its own generator (one worker per device).

    Reports ("progress", job, stage, fraction), ("done", job, result) and
    ("failed", job, code, message) through `emit`. A failure of one job (bad media, out of
    memory, a bug) never stops the worker.
    """

    def __init__(self, index: int, generator: GeneratorLike, queue: FairQueue, emit: Emit) -> None:
        super().__init__(name=f"mfmjt-worker-{index}", daemon=True)
        self.generator = generator
        self.queue = queue
        self.emit = emit
        self.current: Job | None = None

    def run(self) -> None:
        while True:
            job = self.queue.take()
            if job is None:
                return
            self.current = job
            try:
                # The server deletes the job's upload when it answers (a job stopped because
                # its client went away may run again and needs it).
                outcome = self._run_job(job)
            finally:
                self.current = None
            self.emit(outcome)

    def _run_job(self, job: Job) -> tuple[Any, ...]:
        """Run one job; returns its final event."""
        last = [None, 0.0]  # stage, time of the last progress event

        def progress(stage: str, fraction: float) -> None:
            now = time.monotonic()
            job.stage, job.fraction = stage, min(max(float(fraction), 0.0), 1.0)
            if stage != last[0] or now - last[1] >= PROGRESS_INTERVAL_S or fraction >= 1.0:
                last[0], last[1] = stage, now
                # the values as reported: the event is sent later, when the job has moved on
                self.emit(("progress", job, job.stage, job.fraction))
            # Cancellation takes effect at the next progress report, even if the generator
            # checks its token less often.
            job.token.raise_if_cancelled()

        try:
            job.token.raise_if_cancelled()
            self.emit(("progress", job, job.stage, job.fraction))
            result = self.generator.run(job.request, progress=progress, cancel=job.token)
        except CancelledError as exc:
            return ("failed", job, job.cancel_code or exc.code, job.cancel_message or str(exc))
        except MfmjtError as exc:
            return ("failed", job, exc.code, str(exc))
        except MemoryError:
            return ("failed", job, "resource", "out of memory while generating; try a shorter range")
        except Exception as exc:
            if "out of memory" in str(exc).lower():  # torch.cuda.OutOfMemoryError and friends
                return ("failed", job, "resource", f"out of memory: {str(exc)[:300]}")
            log.exception("job %s failed with an unexpected error", job.id)
            return ("failed", job, protocol.INTERNAL, f"{type(exc).__name__}: {str(exc)[:500]}")
        if job.token.cancelled:  # finished just as it was cancelled: honour the cancel
            return ("failed", job, job.cancel_code or protocol.CANCELLED, job.cancel_message or "generation cancelled")
        return ("done", job, result)
