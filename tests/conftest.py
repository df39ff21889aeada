"""Shared test fixtures: the reference data beside the checkout, and a network guard."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# CI lays `shared/` beside the clone; MFMJT_REFERENCE points elsewhere when needed.
REFERENCE = Path(os.environ.get("MFMJT_REFERENCE", ROOT.parent / "shared" / "reference"))


def _require_reference() -> Path:
    if not (REFERENCE / "golden").is_dir():
        pytest.fail(f"reference data not found at {REFERENCE} (set MFMJT_REFERENCE)")
    return REFERENCE


@pytest.fixture(scope="session")
def load_golden():
    """`load_golden("mmdit_tiny_v1.pt")` -> dict, loaded with weights_only=True."""
    import torch

    def load(name: str) -> dict:
        return torch.load(_require_reference() / "golden" / name, weights_only=True)

    return load


@pytest.fixture(scope="session")
def load_manifest():
    """`load_manifest("network_small_16k")` -> the parsed JSON manifest."""

    def load(name: str) -> dict:
        with open(_require_reference() / "manifests" / f"{name}.json") as f:
            return json.load(f)

    return load


def pytest_configure(config):
    """Daemons and clients started by the tests share a token file of their own, never the
    user's (`$MFMJT_TOKEN_FILE`, inherited by every daemon subprocess)."""
    if not os.environ.get("MFMJT_TOKEN_FILE"):
        import tempfile

        folder = tempfile.mkdtemp(prefix="mfmjt-test-token-")
        os.environ["MFMJT_TOKEN_FILE"] = os.path.join(folder, "daemon.token")


_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise OSError(f"tests may not reach the network (tried {host})")
    return _real_connect(self, address)


@pytest.fixture
def one_torch_thread():
    """One torch thread, restored after the test: on a small shared CPU more threads only
    contend (a one-process training step ran 3x slower with two threads than with one, small
    tensors ~10x). Folders and modules that want it everywhere ask for it with autouse."""
    import torch  # here, not at the top: the Blender test runs have no torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests run offline: any Python-level connection beyond loopback fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)
