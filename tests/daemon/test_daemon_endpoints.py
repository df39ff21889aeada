"""Where a daemon listens: a second daemon on a Unix socket in use is refused (as on a TCP port
in use) instead of taking the socket over, a killed daemon's socket file is reused, and an IPv6
loopback endpoint (documented as keyless) binds and serves."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from daemon_testing import free_port
from mfmjt_daemon.client import Client


def _serve(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mfmjt_cli", "serve", "--model", "tiny-random", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_second_daemon_on_a_unix_socket_in_use_is_refused(start_daemon, tmp_path):
    endpoint = f"ipc://{tmp_path}/d.sock"
    first = start_daemon("--bind", endpoint)
    second = _serve("--bind", endpoint)
    assert second.returncode == 1, second.stderr
    assert f"cannot listen on {endpoint}: another process listens there" in second.stderr.strip().splitlines()[-1]
    with Client(endpoint, timeout=3.0, retries=1) as c:  # the first still answers
        assert c.ping() >= 0
    first.kill()  # SIGKILL leaves the socket file behind: the next daemon takes it
    start_daemon("--bind", endpoint)
    with Client(endpoint, timeout=3.0, retries=1) as c:
        assert c.ping() >= 0


def test_an_ipv6_loopback_endpoint_serves(start_daemon):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    endpoint = f"tcp://[::1]:{free_port()}"
    start_daemon("--bind", endpoint)
    with Client(endpoint, timeout=3.0, retries=1) as c:
        assert c.ping() >= 0 and c.hello()["op"] == "hello"
