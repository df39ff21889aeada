"""Progress of a long evaluation: a redrawn line with ETA on a terminal, one line per run elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class EtaProgress:
    """Tracks weighted work units; the ETA assumes the remaining units go at the rate so far."""

    def __init__(self, total: float, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if enabled is None else enabled
        self.total = max(float(total), 1e-9)
        self.done = 0.0
        self.t0 = time.perf_counter()

    def restart_clock(self) -> None:
        """Start timing now (work before this point does not count towards the rate)."""
        self.t0 = time.perf_counter()

    def eta_s(self) -> float | None:
        """Seconds left, or None before any work is done."""
        if self.done <= 0:
            return None
        elapsed = time.perf_counter() - self.t0
        return elapsed * max(self.total - self.done, 0.0) / self.done

    def advance(self, units: float, what: str) -> None:
        """Count `units` more work as done; redraw the line on a terminal."""
        self.done += units
        if not self.tty:
            return
        fraction = min(1.0, self.done / self.total)
        width = 24
        bar = "#" * int(round(width * fraction))
        eta = self.eta_s()
        tail = f"ETA {_clock(eta)}" if eta is not None else "ETA ?"
        elapsed = _clock(time.perf_counter() - self.t0)
        self.stream.write(f"\r[{bar:.<{width}}] {fraction * 100:5.1f}% {what[:44]:<44} {elapsed} {tail}  ")
        self.stream.flush()

    def note(self, line: str) -> None:
        """A finished step: printed as its own line (after the progress line on a terminal)."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
