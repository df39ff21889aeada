"""How the synthetic world is configured: sizes, frame rates and what a clip may contain.

Kept apart from `world.py` so the scene, physics, render and sound modules can name the
configuration without importing the module that imports them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational

from mfmjt_core.errors import MfmjtError
from mfmjt_core.synth.vocab import MATERIALS

FPS_CHOICES: tuple[Fraction, ...] = (
    Fraction(24), Fraction(25), Fraction(30), Fraction(30000, 1001))

class SynthError(MfmjtError):
    """A bad request to the synthetic world (unknown split, out-of-range seeds, bad config)."""

    exit_code = 2
    code = "bad_request"


@dataclass(frozen=True)
class WorldConfig:
    """What the world may contain and how clips are sampled (probabilities are per clip,
    except the behaviour weights, which are per object)."""

    duration_s: float = 8.0
    fps: Fraction | None = None  # None: drawn per clip from fps_choices
    fps_choices: tuple[Fraction, ...] = FPS_CHOICES
    height: int = 96
    width: int = 96
    sample_rate: int = 16_000
    max_objects: int = 4  # balls and cubes
    materials: tuple[str, ...] = MATERIALS
    p_drop: float = 0.45  # weight: falls and bounces on the floor
    p_slide: float = 0.3  # weight: pushed along the floor (scrapes, may hit a wall)
    p_rest: float = 0.25  # weight: sits on the floor, silent unless something hits it
    p_appear: float = 0.3  # an object pops into view (with a pop) instead of being there
    p_machine: float = 0.3  # a machine hums while visible
    p_lamp: float = 0.35  # a lamp flashes or glows, beeping while lit
    p_balloon: float = 0.3  # silent drifting balloon (distractor)
    p_background_change: float = 0.3  # silent slow change of the wall's brightness
    p_silent: float = 0.05  # no sound source at all

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.height < 32 or self.width < 32 or self.sample_rate <= 0:
            raise SynthError(f"bad world size: {self}")
        unknown = set(self.materials) - set(MATERIALS)
        if unknown or not self.materials:
            raise SynthError(f"unknown materials {sorted(unknown)}; known: {MATERIALS}")
        weights = (self.p_drop, self.p_slide, self.p_rest)
        if min(weights) < 0 or sum(weights) <= 0:
            raise SynthError("behaviour weights must be >= 0 with a positive sum")
        for rate in (self.fps_choices if self.fps is None else (self.fps,)):
            _check_rate(rate)


def _check_rate(rate) -> None:
    # Frame times are exact fractions; a float rate (29.97) has a 2**k denominator that
    # overflows the int64 sample arithmetic deep in synthesis, so refuse it here.
    if not isinstance(rate, Rational) or rate <= 0:
        raise SynthError(f"frame rates are positive ints or Fractions (e.g. Fraction(30000, 1001)), "
                         f"got {rate!r}")


DEFAULT = WorldConfig()
