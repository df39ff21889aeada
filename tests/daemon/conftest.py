"""Real daemon processes on free loopback ports, and small test clips.

Every wait is bounded: a daemon that does not come up, or a test that waits for an answer that
never comes, fails instead of hanging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from daemon_testing import free_port

READY_TIMEOUT_S = 90.0  # torch import + model load on a busy 2-core machine


class DaemonProcess:
    """`python -m mfmjt_cli serve ...` in a subprocess, stderr captured to a file."""

    def __init__(self, folder: Path, *args: str, host: str = "127.0.0.1", port: int | None = None,
                 env: dict | None = None, temp_root: Path | None = None, wrapper: tuple[str, ...] = ()) -> None:
        self.port = port or free_port(host)
        self.address = f"tcp://{host}:{self.port}"
        self.log_path = folder / f"daemon-{self.port}-{time.monotonic_ns()}.log"
        bind = ["--port", str(self.port)] if host == "127.0.0.1" else ["--bind", self.address]
        self.args = ["serve", "--model", "tiny-random", *bind, "--heartbeat", "0.5", "--log-level", "debug", *args]
        self.temp_root = temp_root or folder / f"tmp-{self.port}-{time.monotonic_ns()}"  # where uploads go
        self.temp_root.mkdir(exist_ok=True)
        env = {**(env or os.environ), "TMPDIR": str(self.temp_root)}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*wrapper, sys.executable, "-m", "mfmjt_cli", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> DaemonProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready on" in self.log():
                return self
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"daemon not ready within {timeout} s:\n{self.log()}")

    def wait_log(self, text: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"daemon did not stop within {timeout} s after signal {sig}:\n{self.log()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start_daemon(tmp_path):
    """`start_daemon(*args, host=..., port=...)` -> a ready DaemonProcess, killed at teardown."""
    started: list[DaemonProcess] = []

    def start(*args: str, ready: bool = True, **kwargs) -> DaemonProcess:
        daemon = DaemonProcess(tmp_path, *args, **kwargs)
        started.append(daemon)
        return daemon.wait_ready() if ready else daemon

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    """One daemon shared by the tests that leave it running (small message limit for the fuzz)."""
    d = DaemonProcess(tmp_path_factory.mktemp("daemon"), "--max-message-mb", "16", "--max-queue", "32",
                      "--max-seconds", "1000")
    try:
        yield d.wait_ready()
    finally:
        d.kill()


@pytest.fixture
def client(daemon):
    from mfmjt_daemon.client import Client

    with Client(daemon.address, timeout=3.0, retries=2) as c:
        yield c


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """A 4 s, 25 fps, 64x48 H.264 clip: a bright square moving left to right."""
    from mfmjt_core.media import write_video

    frames = np.zeros((100, 48, 64, 3), np.uint8)
    for i in range(100):
        x = int(i * 48 / 100)
        frames[i, 16:32, x:x + 16] = 255
    return write_video(tmp_path_factory.mktemp("clips") / "square.mp4", frames, Fraction(25))
