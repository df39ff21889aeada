"""How a model samples unless a request says otherwise, and the settings one generation uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingDefaults:
    steps: int = 1
    guidance: float = 2.0
    rescale: str = "zero_star"
    # Scale of the starting noise: 1 samples the trained distribution; lower values keep samples
    # nearer its likeliest sound (less variety, fewer artefacts from an imperfect network).
    temperature: float = 1.0

    def resolve(self, request=None) -> SamplingSettings:
        """The settings one generation samples with: the request's own values where it sets
        them (not None), these defaults elsewhere. Filled once per request, here only."""
        def pick(name: str):
            value = getattr(request, name, None)
            return getattr(self, name) if value is None else value

        return SamplingSettings(steps=pick("steps"), guidance=pick("guidance"), rescale=pick("rescale"),
                                temperature=pick("temperature"))


@dataclass(frozen=True)
class SamplingSettings:
    """How one generation samples, every value decided (see `SamplingDefaults.resolve`)."""

    steps: int
    guidance: float
    rescale: str  # none | plain | zero_star | std
    temperature: float = 1.0
    sampler: str = "auto"  # auto: the model's objective decides; or meanflow | euler

    @property
    def guided(self) -> bool:
        """Whether guidance changes anything: a mode other than none and a scale other than 1."""
        return self.rescale != "none" and self.guidance != 1.0
