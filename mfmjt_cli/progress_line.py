"""A terminal progress line for long commands: drawn on a TTY, silent in pipes."""

from __future__ import annotations

import sys
import time


class ProgressLine:
    def __init__(self, stream=None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        width = 28
        filled = int(round(width * max(0.0, min(1.0, fraction))))
        elapsed = time.perf_counter() - self.t0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {stage:<12} {elapsed:6.1f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
