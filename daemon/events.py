"""What the client hands to its caller: errors, progress, results, events. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class DaemonError(Exception):
    """The daemon answered with an error, or could not be reached. `code` is the wire code."""

    def __init__(self, code: str, message: str, job: str | None = None) -> None:
        super().__init__(f"{message} [{code}]")
        self.code, self.message, self.job = code, message, job


class DaemonUnavailableError(DaemonError):
    """No answer from the daemon within the timeout, after the retries."""


class DaemonRestartedError(DaemonError):
    """The daemon restarted (or forgot the job) while a job was in flight: the job was lost."""


class AuthenticationError(DaemonError):
    """The CURVE handshake failed: this client's key is not authorised, or the server key is wrong."""


@dataclass(frozen=True)
class Progress:
    job: str
    stage: str  # "queued", "starting", then the pipeline's stages
    fraction: float  # 0..1
    eta_s: float | None = None
    elapsed_s: float | None = None
    position: int | None = None  # place in the queue while queued


@dataclass(frozen=True)
class Result:
    """Generated audio: float32 little-endian, planar (variations, channels, samples)."""

    job: str
    audio: memoryview
    sample_rate: int
    channels: int
    variations: int
    samples: int
    seeds: tuple[int, ...]
    model: str
    timings: dict[str, float]
    start: float
    duration: float
    header: dict[str, Any] = field(repr=False)

    @property
    def levels(self) -> list[dict[str, Any]]:
        """Per variation: `loudness_lufs` and `true_peak_dbtp` as delivered (None when not
        measurable: silence, under 0.4 s) and the `gain_db` applied; [] from older daemons."""
        value = self.header.get("levels")
        return value if isinstance(value, list) else []

    def variation(self, index: int = 0) -> memoryview:
        """The planar float32 bytes of one variation: channel 0's samples, then channel 1's."""
        size = self.channels * self.samples * 4
        return self.audio[index * size:(index + 1) * size]

    def to_numpy(self):
        """The audio as a numpy float32 array (variations, channels, samples); needs numpy."""
        import numpy as np

        return np.frombuffer(self.audio, dtype="<f4").reshape(self.variations, self.channels, self.samples)


@dataclass(frozen=True)
class Event:
    """Something that happened to a job: kind is "accepted", "progress", "result" or "error"."""

    kind: str
    job: str
    progress: Progress | None = None
    result: Result | None = None
    error: DaemonError | None = None


def loudness_note(level: dict[str, Any], target: float | None, tolerance_lu: float = 1.0) -> str | None:
    """Why a take is not at the loudness a request asked for (None: it is, or none was asked).
    A take quieter than asked is held down by the true-peak ceiling, which always wins."""
    if target is None:
        return None
    loud = level.get("loudness_lufs")
    if loud is None:
        return f"its loudness cannot be measured (too short or silent), so it is not set to {target:g} LUFS"
    if abs(loud - target) <= tolerance_lu:
        return None
    why = ": its peaks reach the true-peak ceiling first" if loud < target else ""
    return f"it is at {loud:.1f} LUFS, not the {target:g} LUFS asked{why}"


def levels_text(level: dict[str, Any]) -> str:
    """One take's levels for a status line, e.g. "-23.0 LUFS, -1.0 dBTP"."""
    loud, peak = level.get("loudness_lufs"), level.get("true_peak_dbtp")
    return (f"{'-' if loud is None else f'{loud:.1f}'} LUFS, "
            f"{'-' if peak is None else f'{peak:.1f}'} dBTP")
