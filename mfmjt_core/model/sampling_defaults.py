"""How a model samples unless a request says otherwise, and the settings one generation uses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# A median over more frames than half a second (16 ms each) takes out events, not a take's
# one-frame jitter: at 99,999 frames a take came out 13 dB quieter.
MAX_MEDIAN_FRAMES = 31


@dataclass(frozen=True)
class SamplingDefaults:
    steps: int = 1
    guidance: float = 2.0
    rescale: str = "zero_star"
    # Scale of the starting noise: 1 samples the trained distribution; lower values keep samples
    # nearer its likeliest sound (less variety, fewer artefacts from an imperfect network).
    temperature: float = 1.0
    # The temperature of requests without a picture (None: `temperature`). Without a picture
    # nothing fixes when events happen, so a cooled one-step sample falls toward their average:
    # near silence (the embedded model at 0.75: median level -59 dB against the world's -28).
    text_temperature: float | None = None
    # The guidance scale of requests without a picture (None: `guidance`). A caption alone pulls
    # the sample less than a picture does, so it takes a stronger push toward its condition (the
    # embedded model: Frechet 926 at 1.25 -> 686 at 3.0 on 64 validation clips, prompt only).
    text_guidance: float | None = None
    # Running median over this many (odd) mel frames of a take's spectrum before it is decoded;
    # 1: none; mel codec only. A one-step sample's level jitters between frames where the data
    # decays or hums smoothly, and each jump is heard (and detected) as a new event; a median
    # of 3 frames (48 ms) takes one-frame jumps out and keeps steps (onsets) where they are.
    median_frames: int = 1
    # The same for requests without a picture (None: `median_frames`): there the events are the
    # model's own, softer ones, and the median takes some of them out with the jitter.
    text_median_frames: int | None = None

    def __post_init__(self) -> None:
        for name in ("median_frames", "text_median_frames"):
            value = getattr(self, name)
            if value is not None and not (1 <= value <= MAX_MEDIAN_FRAMES and value % 2):
                raise ValueError(f"{name} must be an odd number of frames in [1, {MAX_MEDIAN_FRAMES}], got {value}")

    def to_dict(self) -> dict:
        """The stored form: unset optional values and no median left out (files without them
        read the same)."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if v is not None and not (k == "median_frames" and v == 1)}

    def temperature_for(self, has_picture: bool) -> float:
        """The default temperature of a request with or without a picture."""
        return _with_or_without_picture(self.temperature, self.text_temperature, has_picture)

    def guidance_for(self, has_picture: bool) -> float:
        """The default guidance scale of a request with or without a picture."""
        return _with_or_without_picture(self.guidance, self.text_guidance, has_picture)

    def median_frames_for(self, has_picture: bool) -> int:
        """The median window (frames) of a request's take with or without a picture."""
        return _with_or_without_picture(self.median_frames, self.text_median_frames, has_picture)

    def resolve(self, request=None, *, has_picture: bool = True) -> SamplingSettings:
        """The settings one generation samples with: the request's own values where it sets
        them (not None), these defaults elsewhere. Filled once per request, here only."""
        def pick(name: str, default):
            value = getattr(request, name, None)
            return default if value is None else value

        return SamplingSettings(steps=pick("steps", self.steps),
                                guidance=pick("guidance", self.guidance_for(has_picture)),
                                rescale=pick("rescale", self.rescale),
                                temperature=pick("temperature", self.temperature_for(has_picture)),
                                median_frames=self.median_frames_for(has_picture))


def _with_or_without_picture(value, text_value, has_picture: bool):
    return value if has_picture or text_value is None else text_value


@dataclass(frozen=True)
class SamplingSettings:
    """How one generation samples, every value decided (see `SamplingDefaults.resolve`)."""

    steps: int
    guidance: float
    rescale: str  # none | plain | zero_star | std
    temperature: float = 1.0
    sampler: str = "auto"  # auto: the model's objective decides; or meanflow | euler
    median_frames: int = 1  # of the decoded spectrum (`SamplingDefaults.median_frames`)

    @property
    def guided(self) -> bool:
        """Whether guidance changes anything: a mode other than none and a scale other than 1."""
        return self.rescale != "none" and self.guidance != 1.0
