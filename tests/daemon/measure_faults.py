"""Measure the two fault latencies of issue 17 on this machine (CPU):

1. cancel: an 8 s text job with `--steps 1000` is cancelled once it samples; seconds from the
   cancel request to the job's `cancelled` error.
2. client loss: a client is killed (SIGKILL) while its 8 s, 1000-step job runs and another
   client's job waits; seconds from the kill until the waiting job starts.

    python tests/daemon/measure_faults.py [--model tiny-random] [--repeats 3]

Runs a real `mfmjt serve` on a free loopback port (the embedded model unless --model).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mfmjt_daemon.client import Client

SLOW = dict(prompt="rain on a tin roof", duration=8.0, steps=1000, sample_rate=16_000, seed=7)
KILLED = """
import sys, time
from mfmjt_daemon.client import Client
c = Client(sys.argv[1], timeout=10.0)
job = c.submit(**{job})
while not (job.progress is not None and job.progress.stage == "sample" and job.progress.fraction > 0.01):
    c.poll(0.05)
print("running", flush=True)
time.sleep(600)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(predicate, client: Client, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.poll(0.005)
        if predicate():
            return time.monotonic()
    raise SystemExit(f"timed out waiting for {what}")


def _sampling(job) -> bool:
    return job.progress is not None and job.progress.stage == "sample" and job.progress.fraction > 0.01


def measure_cancel(address: str) -> float:
    with Client(address, timeout=10.0) as c:
        job = c.submit(**SLOW)
        _until(lambda: _sampling(job), c, 300, "sampling")
        t0 = time.monotonic()
        c.cancel(job)
        return _until(lambda: job.done, c, 300, "the cancel") - t0


def measure_client_loss(address: str) -> float:
    proc = subprocess.Popen([sys.executable, "-c", KILLED.replace("{job}", repr(SLOW)), address],
                            stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "running":
            raise SystemExit("the client to kill did not start its job")
        with Client(address, timeout=10.0) as c:
            waiting = c.submit(prompt="next", duration=1.0, sample_rate=16_000, seed=1)
            _until(lambda: waiting.state == "queued", c, 60, "the second job to queue")
            proc.kill()
            t0 = time.monotonic()
            started = _until(lambda: waiting.done or (waiting.progress is not None
                                                      and waiting.progress.stage not in ("queued", "starting")),
                             c, 300, "the waiting job to start")
            _until(lambda: waiting.done, c, 300, "the waiting job to finish")
            return started - t0
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model for the daemon (default: the embedded one)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    port = _port()
    folder = Path(tempfile.mkdtemp(prefix="mfmjt-measure-"))
    log = folder / "daemon.log"
    model = ["--model", args.model] if args.model else []
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with open(log, "wb") as f:
        daemon = subprocess.Popen([sys.executable, "-m", "mfmjt_cli", "serve", *model, "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=f, env=env)
    try:
        deadline = time.monotonic() + 120
        while "ready on" not in log.read_text(errors="replace"):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the daemon did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        address = f"tcp://127.0.0.1:{port}"
        cancels = [measure_cancel(address) for _ in range(args.repeats)]
        losses = [measure_client_loss(address) for _ in range(args.repeats)]
    finally:
        daemon.kill()
        daemon.wait()
    print(f"cancel of an 8 s, 1000-step job: median {statistics.median(cancels):.3f} s, "
          f"max {max(cancels):.3f} s over {len(cancels)}")
    print(f"killed client -> waiting job starts: median {statistics.median(losses):.3f} s, "
          f"max {max(losses):.3f} s over {len(losses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
