"""The comparison grid: which model, how many steps, which guidance, which conditions.

Names read `<model><steps>-<guidance>-<modality>`: `mf1-zero_star-video` is the MeanFlow model,
one step, guidance with the zero-star rescale at the model's default scale, video only;
`fm25-off-text` is the flow-matching baseline, 25 Euler steps, no guidance, caption only.

Presets:
- `default` (32 runs): every modality (video, text, both) x {MF 1, MF 4, FM 1, FM 25 steps} x
  {guidance off, the model's default rescale mode}, plus the other two rescale modes for every
  model/steps on video-to-audio (the rescale comparison needs one modality, not three).
- `full` (48 runs): every modality x every model/steps x every guidance mode.
- `quick` (8 runs): video-to-audio only, guidance off and default.
Anything else is a glob over the names of the full grid (`mf1-*`, `*-text`, `fm25-std-video`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from mfmjt_core.errors import MfmjtError

MODEL_STEPS: tuple[tuple[str, int], ...] = (("mf", 1), ("mf", 4), ("fm", 1), ("fm", 25))
GUIDANCE_MODES: tuple[str, ...] = ("off", "plain", "zero_star", "std")
MODALITIES: tuple[str, ...] = ("video", "text", "both")
PRESETS: tuple[str, ...] = ("default", "full", "quick")
_MODEL_NAMES = {"mf": "MeanFlow", "fm": "flow matching"}
_MODALITY_NAMES = {"video": "video-to-audio", "text": "text-to-audio", "both": "video+text-to-audio"}


class GridError(MfmjtError):
    """A --configs selection that matches nothing."""

    exit_code = 2
    code = "bad_request"


@dataclass(frozen=True)
class RunConfig:
    """One row of the comparison."""

    model: str  # "mf" (the MeanFlow model) or "fm" (the flow-matching baseline)
    steps: int
    guidance: str  # "off" or a rescale mode at the model's default scale
    modality: str

    @property
    def name(self) -> str:
        return f"{self.model}{self.steps}-{self.guidance}-{self.modality}"

    @property
    def label(self) -> str:
        steps = f"{self.steps} step" + ("s" if self.steps > 1 else "")
        guidance = "no guidance" if self.guidance == "off" else f"guidance {self.guidance}"
        return f"{_MODEL_NAMES[self.model]}, {steps}, {guidance}"

    @property
    def modality_label(self) -> str:
        return _MODALITY_NAMES[self.modality]

    @property
    def rescale(self) -> str:
        """The generator's rescale argument."""
        return "none" if self.guidance == "off" else self.guidance


def guidance_column(defaults: dict, modality: str = "video") -> str:
    """The guidance column of a model's own default sampling for `modality` ("off" when that
    default is unguided; prompt-only requests have their own scale, `text_guidance`, when the
    model sets one): the runs that judge the model as users get it."""
    scale = defaults.get("guidance", 1.0)
    if modality == "text" and defaults.get("text_guidance") is not None:
        scale = defaults["text_guidance"]
    return "off" if scale == 1.0 or defaults.get("rescale") == "none" else defaults["rescale"]


def full_grid() -> list[RunConfig]:
    """Every combination, in table order (modality, then model/steps, then guidance)."""
    return [RunConfig(m, s, g, mod) for mod in MODALITIES for m, s in MODEL_STEPS for g in GUIDANCE_MODES]


def preset(name: str, default_mode: str = "zero_star") -> list[RunConfig]:
    """The runs of a preset (see the module docstring); `default_mode` is the model's rescale."""
    grid = full_grid()
    if name == "full":
        return grid
    if name == "quick":
        return [c for c in grid if c.modality == "video" and c.guidance in ("off", default_mode)]
    if name == "default":
        return [c for c in grid if c.guidance in ("off", default_mode) or c.modality == "video"]
    raise GridError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")


def select(patterns: Sequence[str], *, default_mode: str = "zero_star",
           with_baseline: bool = True) -> list[RunConfig]:
    """Runs named by presets and/or glob patterns, in table order, without duplicates; without
    a baseline model the flow-matching runs are dropped."""
    chosen: set[RunConfig] = set()
    for pattern in patterns or ("default",):
        if pattern in PRESETS:
            matched = preset(pattern, default_mode)
        else:
            matched = [c for c in full_grid() if fnmatch.fnmatchcase(c.name, pattern)]
        if not matched:
            raise GridError(f"--configs {pattern!r} matches no run; names look like mf1-zero_star-video "
                            f"(model mf|fm, steps 1|4|25, guidance {'|'.join(GUIDANCE_MODES)}, "
                            f"modality {'|'.join(MODALITIES)}) or a preset ({', '.join(PRESETS)})")
        chosen.update(matched)
    runs = [c for c in full_grid() if c in chosen and (with_baseline or c.model == "mf")]
    if not runs:
        raise GridError("no run left to do (flow-matching runs need --baseline)")
    return runs
