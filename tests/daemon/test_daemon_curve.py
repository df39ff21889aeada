"""CURVE: a bind beyond 127.0.0.1 needs keys, and only authorised clients get in.

127.0.0.2 stands in for a non-loopback address: it is in the loopback range (nothing leaves the
machine), but the daemon trusts only 127.0.0.1, ::1 and localhost without keys.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import time

import pytest
from daemon_testing import free_port
from mfmjt_daemon.client import AuthenticationError, Client


def _mfmjt(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mfmjt_cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_non_loopback_bind_without_keys_refuses_to_start():
    port = free_port("127.0.0.2")
    start = time.monotonic()
    run = _mfmjt("serve", "--model", "tiny-random", "--bind", f"tcp://127.0.0.2:{port}")
    assert run.returncode == 2 and "refusing to listen on tcp://127.0.0.2" in run.stderr
    assert "mfmjt keys init" in run.stderr
    assert time.monotonic() - start < 30  # refused before loading any model


def test_keys_command_and_curve_admits_only_authorised_clients(start_daemon, tmp_path):
    keys = tmp_path / "keys"
    assert _mfmjt("keys", "--dir", str(keys), "init").returncode == 0
    made = _mfmjt("keys", "--dir", str(keys), "client", "editor")
    assert made.returncode == 0, made.stderr
    stranger_dir = tmp_path / "stranger"
    assert _mfmjt("keys", "--dir", str(stranger_dir), "client", "stranger").returncode == 0  # never authorised here
    assert stat.S_IMODE((keys / "server.key_secret").stat().st_mode) == 0o600
    shown = _mfmjt("keys", "--dir", str(keys), "show")
    assert "authorised clients: editor" in shown.stdout
    assert _mfmjt("keys", "--dir", str(keys), "init").returncode == 2  # no silent overwrite

    daemon = start_daemon("--keys", str(keys), host="127.0.0.2")
    assert "CURVE on" in daemon.log() and "paths refused" in daemon.log()
    server_key = keys / "server.key"
    with Client(daemon.address, timeout=2.0, server_key=server_key,
                client_key=keys / "clients" / "editor.key_secret") as good:
        assert good.hello()["paths"] is False
        result = good.generate(prompt="secure", duration=1.0, sample_rate=16_000)
        assert result.samples == 16_000
    with Client(daemon.address, timeout=2.0, retries=1, server_key=server_key,
                client_key=stranger_dir / "clients" / "stranger.key_secret") as bad:
        with pytest.raises(AuthenticationError) as info:
            bad.ping()
        assert info.value.code == "auth"
    assert daemon.wait_log("refused a client key that is not authorised", 5)
    # Authorising takes effect without a restart.
    assert (
        _mfmjt("keys", "--dir", str(keys), "authorize", str(stranger_dir / "clients" / "stranger.key")).returncode == 0
    )
    with Client(daemon.address, timeout=2.0, server_key=server_key,
                client_key=stranger_dir / "clients" / "stranger.key_secret") as now_ok:
        assert now_ok.ping() < 1.0
    # A client without CURVE gets nothing from a CURVE daemon.
    with Client(daemon.address, timeout=0.5, retries=0) as plain:
        with pytest.raises(Exception) as info:
            plain.ping()
        assert info.value.code in ("unavailable", "auth")
