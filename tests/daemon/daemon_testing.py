"""Helpers shared by the daemon tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import socket
import time

import pytest

# A job of ~40 windows: it runs for many seconds; cancellation (checked before every network
# evaluation and decoder chunk) takes effect at once.
LONG_JOB = dict(prompt="long", duration=300.0, steps=1, sample_rate=16_000)


def token() -> str:
    """The local daemons' token (for tests that speak the protocol on raw sockets)."""
    from mfmjt_daemon.local_token import ensure_token

    return ensure_token()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, step=None, what: str = "condition"):
    """Call `step` then `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step is not None:
            step()
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
