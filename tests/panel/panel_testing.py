"""Helpers shared by the panel tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "panel"  # gitignored; a person looks at the screenshot here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_model_arguments() -> tuple[str, ...]:
    """The embedded model when it ships, else the small random one."""
    embedded = ROOT / "mfmjt_core" / "assets" / "mfmjt-tiny-synth.safetensors"
    return () if embedded.is_file() else ("--model", "tiny-random")


def frame_gray(index: int) -> int:
    """Gray level of frame `index` in the test clip: frames are told apart by brightness."""
    return 20 + (index * 7) % 220
