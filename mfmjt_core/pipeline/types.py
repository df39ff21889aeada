"""Values that cross the pipeline's boundary: requests, results, progress and cancellation.

They hold no torch tensors, so the daemon can pass them around and serialise them freely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mfmjt_core.errors import CancelledError

# progress(stage, fraction in [0, 1]); stages: "decode", "encode", "sample", "decode_audio", "resample"
ProgressCallback = Callable[[str, float], None]


class CancelToken:
    """Thread-safe cancellation flag, checked by the pipeline between stages."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError("generation cancelled")


@dataclass(frozen=True)
class GenerateRequest:
    """One generation job. `video=None` means text-to-audio for `duration` seconds."""

    video: Path | None = None
    start: float | None = None  # seconds into the video; None = 0
    end: float | None = None  # None = end of the video
    duration: float | None = None  # text-to-audio length; ignored with a video
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None  # None: a fresh random seed, reported in the result
    steps: int | None = None  # None: the model's default (1 for MeanFlow models)
    guidance: float | None = None  # None: the model's default scale
    rescale: str | None = None  # guidance mode: none | plain | zero_star | std; None: default
    temperature: float | None = None  # scale of the starting noise (0..2); None: the model's default
    variations: int = 1
    sample_rate: int = 48_000
    channels: int = 1

    def __post_init__(self) -> None:
        if self.steps is not None and not 1 <= self.steps <= 1000:
            raise ValueError("steps must be between 1 and 1000")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise ValueError("temperature must be between 0 and 2")
        if self.variations < 1 or self.variations > 16:
            raise ValueError("variations must be between 1 and 16")
        if self.channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        if not 8_000 <= self.sample_rate <= 192_000:
            raise ValueError("sample_rate must be between 8000 and 192000")
        if self.video is None and (self.duration is None or self.duration <= 0):
            raise ValueError("text-to-audio needs a positive duration")


@dataclass(frozen=True)
class GenerationResult:
    audio: np.ndarray  # float32 (variations, channels, samples)
    sample_rate: int
    seeds: tuple[int, ...]  # seed of each variation: re-running with it regenerates that one
    model: str
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    start: float = 0.0
    duration: float = 0.0

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[-1])
