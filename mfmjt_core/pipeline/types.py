"""Values that cross the pipeline's boundary: requests, results, progress and cancellation.

They hold no torch tensors, so the daemon can pass them around and serialise them freely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path

import numpy as np

import mfmjt_schema
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


def _check_request(self) -> None:
    for spec in mfmjt_schema.pipeline_fields():
        value = getattr(self, spec.name)
        if value is None and spec.accepts_none_in_pipeline:
            continue
        try:
            # the schema's canonical form (e.g. 2 -> 2.0 for a number); frozen, so set through object
            object.__setattr__(self, spec.name, spec.check(value))
        except mfmjt_schema.FieldError as exc:
            raise ValueError(str(exc)) from None
    if self.video is None:
        try:
            mfmjt_schema.check_range({"start": self.start, "end": self.end, "duration": self.duration}, False)
        except mfmjt_schema.RangeError as exc:
            raise ValueError(str(exc)) from None
    elif self.end is not None and self.duration is not None:
        raise ValueError("give the range's end or its duration, not both")
    # a video range's other faults (empty, outside the video) are media errors the pipeline raises


def _request_class() -> type:
    """`GenerateRequest`, built from the request schema's pipeline fields plus the video path."""
    specs = [("video", Path | None, field(default=None))]
    specs += [(f.name, f.python_type(), field(default=f.default)) for f in mfmjt_schema.pipeline_fields()]
    cls = make_dataclass("GenerateRequest", specs, frozen=True, namespace={"__post_init__": _check_request})
    cls.__module__ = __name__
    cls.__doc__ = ("One generation job. `video=None` means text-to-audio for `duration` seconds; with a video, "
                   "`start`/`end` (or `start` + `duration`) pick the range, no end means the video's end. "
                   "Fields, bounds and defaults: mfmjt_schema.FIELDS:\n" + "\n".join(
                       f"    {f.name}: {f.help}" for f in mfmjt_schema.pipeline_fields()))
    return cls


GenerateRequest = _request_class()


@dataclass(frozen=True)
class GenerationResult:
    audio: np.ndarray  # float32 (variations, channels, samples)
    sample_rate: int
    seeds: tuple[int, ...]  # seed of each variation: re-running with it regenerates that one
    model: str
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    start: float = 0.0
    duration: float = 0.0
    levels: tuple = ()  # mfmjt_core.media.levels.Levels per variation (empty: raw output)

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[-1])
