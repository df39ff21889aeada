"""A real `mfmjt serve` subprocess on a free loopback port, for tests of the editor clients."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED = ROOT / "mfmjt_core" / "assets" / "mfmjt-tiny-synth.safetensors"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_model_arguments() -> tuple[str, ...]:
    """The embedded model when it ships, else the small random one."""
    return () if EMBEDDED.is_file() else ("--model", "tiny-random")


def running_daemon(folder: Path, *, timeout: float = 90.0, heartbeat: float = 0.5) -> Iterator[str]:
    """Start a daemon logging into `folder`, yield its address when ready, kill it afterwards."""
    port = free_port()
    log_path = folder / "daemon.log"
    argv = [sys.executable, "-m", "mfmjt_cli", "serve", *serve_model_arguments(), "--port", str(port),
            "--heartbeat", str(heartbeat)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + timeout
        while "ready on" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"daemon did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


class ServeProcess:
    """`mfmjt serve` on a fixed port, so it can be killed and started again at the same address."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> ServeProcess:
        self.runs += 1
        self.log_path = self.folder / f"daemon-{self.runs}.log"
        argv = [sys.executable, "-m", "mfmjt_cli", "serve", *serve_model_arguments(), "--port", str(self.port),
                "--heartbeat", "0.5", "--log-level", "debug"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 90
        while "ready on" not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"daemon did not start:\n{self.log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
