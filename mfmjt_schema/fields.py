"""The fields of a `generate` request: name, kind, bounds, default, help, and where each is used.

`FIELDS` is the one table. Everything else derives from it through the helpers below, which read
the table when called (so a test can extend it before importing the modules that derive from it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 4096
MAX_SEED = 2**63 - 1
MAX_SECONDS = 86_400.0  # a day: far past any daemon's limit, so the limit is the daemon's to give
RESCALE_MODES = ("none", "plain", "zero_star", "std")
VIDEO_FORMATS = ("mp4", "mov", "mkv", "webm", "avi", "m4v", "mxf", "mpg", "ts")

# Request forms: a video (a range of it, or all of it) or text alone.
VIDEO, TEXT = "video", "text"
BOTH = frozenset({VIDEO, TEXT})

_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")


class FieldError(ValueError):
    """A value outside its field's type or bounds; `field` names it, the message says what fits."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(f"field {name!r} must be {what}")
        self.field = name
        self.what = what


def valid_id(value: object) -> bool:
    """True for a job or request id: 1-64 characters of A-Z a-z 0-9 . _ : -"""
    return isinstance(value, str) and _ID.match(value) is not None


@dataclass(frozen=True)
class Field:
    """One request field.

    kind: "int", "number", "text", "choice", "id" or "fps" ([numerator, denominator]).
    default: the value when the field is absent (None: "not given", the meaning is in `help`).
    nullable: JSON null is accepted on the wire and means the same as absent.
    forms: the request forms the field applies to (VIDEO, TEXT).
    cli: option strings on the command line (`mfmjt generate`, `mfmjt client`); () = none.
    pipeline: the pipeline's `GenerateRequest` has a field of this name.
    pipeline_none: the pipeline also takes None (for a default that the wire does not offer to
    switch off, e.g. the peak ceiling the evaluation turns off to score raw output).
    """

    name: str
    kind: str
    help: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    nullable: bool = True
    forms: frozenset[str] = BOTH
    cli: tuple[str, ...] = ()
    metavar: str | None = None
    pipeline: bool = True
    pipeline_none: bool | None = None

    @property
    def accepts_none_in_pipeline(self) -> bool:
        return self.nullable if self.pipeline_none is None else self.pipeline_none

    def what(self) -> str:
        """The accepted values in words (used in error messages and help)."""
        if self.kind == "int":
            return f"an integer in [{_num(self.low)}, {_num(self.high)}]"
        if self.kind == "number":
            return f"a number in [{_num(self.low)}, {_num(self.high)}]"
        if self.kind == "text":
            return f"a string of at most {MAX_TEXT} characters"
        if self.kind == "choice":
            return f"one of {list(self.choices)}"
        if self.kind == "id":
            return "an id of 1-64 characters from A-Z a-z 0-9 . _ : -"
        if self.kind == "fps":
            return "[numerator, denominator], two positive integers"
        raise AssertionError(self.kind)

    def check(self, value: Any) -> Any:
        """`value` in its canonical Python form, or FieldError. None passes when nullable."""
        if value is None and self.nullable:
            return None
        kind = self.kind
        if kind == "int":
            # bool is an int subclass in Python and a separate type in JSON: refuse it
            if type(value) is not int or not self.low <= value <= self.high:
                raise FieldError(self.name, self.what())
            return value
        if kind == "number":
            if (type(value) not in (int, float) or not math.isfinite(value)
                    or not self.low <= value <= self.high):
                raise FieldError(self.name, self.what())
            return float(value)
        if kind == "text":
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise FieldError(self.name, self.what())
            return value
        if kind == "choice":
            if value not in self.choices or type(value) is bool:
                raise FieldError(self.name, self.what())
            return value
        if kind == "id":
            if not valid_id(value):
                raise FieldError(self.name, self.what())
            return value
        if kind == "fps":
            if (isinstance(value, (list, tuple)) and len(value) == 2 and all(type(n) is int for n in value)
                    and 0 < value[0] <= 1_000_000 and 0 < value[1] <= 1_000_000):
                return (value[0], value[1])
            raise FieldError(self.name, self.what())
        raise AssertionError(kind)

    def python_type(self) -> Any:
        """The annotation a dataclass field of this kind gets."""
        base = {"int": int, "number": float, "text": str, "choice": str, "id": str, "fps": tuple}[self.kind]
        if self.kind == "choice" and self.choices and all(type(c) is int for c in self.choices):
            base = int
        return base | None if self.accepts_none_in_pipeline or self.default is None else base


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


def _f(name: str, kind: str, help: str, **kw: Any) -> Field:
    return Field(name, kind, help, **kw)


# The one table. Order: how the command line lists them and how the document's table reads.
FIELDS: tuple[Field, ...] = (
    _f("job", "id", "the job id, chosen by the client (unique per connection)", nullable=False, pipeline=False),
    _f("video_path", "text", "absolute path of a video file on the daemon's machine", nullable=False,
       forms=frozenset({VIDEO}), pipeline=False),
    _f("video_format", "choice", "container of the `video` blob", default="mp4", choices=VIDEO_FORMATS,
       nullable=False, forms=frozenset({VIDEO}), pipeline=False),
    _f("start", "number", "range start in seconds (default 0)", low=0.0, high=MAX_SECONDS,
       forms=frozenset({VIDEO}), cli=("--start",), metavar="SECONDS"),
    _f("end", "number", "range end in seconds (default: end of the video)", low=0.0, high=MAX_SECONDS,
       forms=frozenset({VIDEO}), cli=("--end",), metavar="SECONDS"),
    _f("start_frame", "int", "range start in frames (needs fps)", low=0, high=2**31,
       forms=frozenset({VIDEO}), pipeline=False),
    _f("end_frame", "int", "range end in frames, exclusive (needs fps)", low=0, high=2**31,
       forms=frozenset({VIDEO}), pipeline=False),
    _f("fps", "fps", "frame rate of start_frame/end_frame, e.g. [30000, 1001]", forms=frozenset({VIDEO}),
       pipeline=False),
    _f("duration", "number", "seconds of audio: the length of text-to-audio; with a video, the range's "
       "length from its start (instead of an end)", low=0.001, high=MAX_SECONDS, cli=("-d", "--duration"),
       metavar="SECONDS"),
    _f("prompt", "text", "what the sound should be", default="", nullable=False, cli=("-p", "--prompt")),
    _f("negative_prompt", "text", "what the sound should not be", default="", nullable=False,
       cli=("-n", "--negative", "--negative-prompt")),
    _f("seed", "int", "seed of the first variation (default: random, reported back)", low=0, high=MAX_SEED,
       cli=("--seed",)),
    _f("steps", "int", "network evaluations per sample (default: the model's, 1)", low=1, high=1000,
       cli=("--steps",)),
    _f("guidance", "number", "guidance scale (default: the model's)", low=0.0, high=100.0, cli=("--guidance",)),
    _f("rescale", "choice", "guidance mode (default: the model's)", choices=RESCALE_MODES, cli=("--rescale",)),
    _f("temperature", "number", "scale of the starting noise, 0-2: lower is safer, less varied "
       "(default: the model's)", low=0.0, high=2.0, cli=("--temperature",)),
    _f("variations", "int", "how many different results", default=1, low=1, high=16, nullable=False,
       cli=("--variations",)),
    _f("sample_rate", "int", "output rate in Hz", default=48_000, low=8_000, high=192_000, nullable=False,
       cli=("--sample-rate",), metavar="HZ"),
    _f("channels", "choice", "1 mono or 2 stereo", default=1, choices=(1, 2), nullable=False,
       cli=("--channels",)),
    _f("loudness", "number", "integrated loudness to normalise to, in LUFS (ITU-R BS.1770), e.g. -23; "
       "default: no normalisation (the peak ceiling still applies)", low=-70.0, high=0.0,
       cli=("--loudness",), metavar="LUFS"),
    _f("peak_ceiling", "number", "true-peak ceiling in dBTP: louder output is turned down to it",
       default=-1.0, low=-20.0, high=0.0, nullable=False, pipeline_none=True, cli=("--peak-ceiling",),
       metavar="DBTP"),
)


def field(name: str) -> Field:
    """The field called `name` (KeyError if there is none)."""
    for f in FIELDS:
        if f.name == name:
            return f
    raise KeyError(name)


def wire_fields() -> dict[str, Field]:
    """Every field of a `generate` message, by name."""
    return {f.name: f for f in FIELDS}


def pipeline_fields() -> tuple[Field, ...]:
    """The fields the pipeline's `GenerateRequest` holds (besides its `video` path)."""
    return tuple(f for f in FIELDS if f.pipeline)


def cli_fields() -> tuple[Field, ...]:
    """The fields that have command-line options."""
    return tuple(f for f in FIELDS if f.cli)


def check_fields(values: dict[str, Any], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Check each given value against its field; returns the canonical values (FieldError)."""
    table = wire_fields()
    out = {}
    for name, value in values.items():
        if names is not None and name not in names:
            continue
        if name not in table:
            raise FieldError(name, "a known field (there is no such field)")
        out[name] = table[name].check(value)
    return out
