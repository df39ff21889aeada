"""Helpers shared by the panel tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "panel"  # gitignored; a person looks at the screenshot here


def frame_gray(index: int) -> int:
    """Gray level of frame `index` in the test clip: frames are told apart by brightness."""
    return 20 + (index * 7) % 220
