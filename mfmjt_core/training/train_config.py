"""Training configuration as frozen dataclasses, overridable from the command line."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ObjectiveConfig:
    kind: Literal["fm", "meanflow"] = "meanflow"
    # (t, r) sampling: logit-normal(mu, sigma); share of rows with r = t (plain flow matching)
    mu: float = -0.4
    sigma: float = 1.0
    equal_fraction: float = 0.75
    # share of the other rows (r != t) that learn the whole interval, (r, t) = (0, 1): the map
    # one-step sampling evaluates, which two logit-normal draws almost never reach (mu 1.2:
    # P(r < 0.05) ~ 1e-4)
    endpoint_fraction: float = 0.0
    # adaptive loss weight 1 / (L + c)^p
    weight_p: float = 1.0
    weight_c: float = 1e-3
    # optional CFG folded into the MeanFlow target (None: off)
    omega: float | None = None
    kappa: float = 0.0
    interval: tuple[float, float] = (0.0, 1.0)
    # guidance as an input of the network (MeanFlow, a `guidance_input` network): each row draws
    # its omega uniformly in this range and the network is told it (None: off)
    omega_range: tuple[float, float] | None = None
    jvp_fp32: bool = True
    derivative: Literal["jvp", "fd"] = "jvp"  # du/dt by forward-mode AD or central difference
    # weight of a task's auxiliary loss (the synthetic world's alignment probes); 0: off
    probe_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.endpoint_fraction <= 1.0:
            raise ValueError(f"endpoint_fraction is a share in [0, 1], got {self.endpoint_fraction}")
        if self.endpoint_fraction and self.kind != "meanflow":
            raise ValueError("endpoint_fraction needs the MeanFlow objective (flow matching has r = t)")
        if self.omega_range is None:
            return
        lo, hi = self.omega_range
        if self.kind != "meanflow":
            raise ValueError("omega_range (guidance as an input) needs the MeanFlow objective")
        if self.omega is not None:
            raise ValueError("give either omega (one folded scale) or omega_range (a scale per row), not both")
        if self.kappa != 0.0:
            # with kappa the learned scale is omega / (1 - kappa), not the w the network is told
            raise ValueError("omega_range needs kappa = 0")
        if not 1.0 <= lo <= hi:
            raise ValueError(f"omega_range needs 1 <= low <= high, got {self.omega_range}")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 100
    decay: Literal["constant", "cosine"] = "cosine"
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    ema_decay: float = 0.999


def check_strength(strength: float, name: str = "picture_augment", what: str = "a strength") -> float:
    """`picture_augment`'s strength (or `neutral_looks`' share), refused outside [0, 1] (NaN included)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"{name} is {what} in [0, 1], got {strength}")
    return strength


# Refusal of the picture options where the rows are features encoded once (extracted or distilled)
NO_PICTURES = ("picture_augment and neutral_looks change frames made during training (`mfmjt train "
               "tiny-synth`); these rows are features encoded once, so they cannot apply: leave them at 0")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 16  # global batch, split across processes
    seed: int = 0
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    null_video: float = 0.1  # probability of dropping the video conditions of a row
    null_text: float = 0.1
    precision: Literal["fp32", "bf16"] = "fp32"
    # jitter of how each clip looks, 0 (off) to 1 (`picture_augment.py`); only where frames are
    # made during training (`mfmjt train tiny-synth`), not from extracted features
    picture_augment: float = 0.0
    # share of rows whose balls and cubes are drawn in one look that is no material's, so the
    # caption alone says what they are made of (`synth.world.neutral_frames`); frames made
    # during training only, like picture_augment
    neutral_looks: float = 0.0
    log_every: int = 10
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):  # 0 steps would export the starting network as if trained
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        check_strength(self.picture_augment)
        check_strength(self.neutral_looks, "neutral_looks", "a share of rows")

    @property
    def changes_pictures(self) -> bool:
        """picture_augment or neutral_looks is on: rows need frames made during training."""
        return bool(self.picture_augment or self.neutral_looks)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        objective = dict(data.pop("objective", {}))
        for key in ("interval", "omega_range"):
            if objective.get(key) is not None:
                objective[key] = tuple(objective[key])
        optim = dict(data.pop("optim", {}))
        if "betas" in optim:
            optim["betas"] = tuple(optim["betas"])
        return cls(objective=ObjectiveConfig(**objective), optim=OptimConfig(**optim), **data)


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """`["steps=500", "optim.lr=1e-4", "objective.kind=fm"]` -> a new config (types kept)."""
    data = dataclasses.asdict(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not KEY=VALUE")
        node, parts = data, key.split(".")
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise ValueError(f"unknown config field {key!r}")
            node = node[part]
        if parts[-1] not in node:
            raise ValueError(f"unknown config field {key!r}")
        try:
            node[parts[-1]] = _parse_like(raw, node[parts[-1]])
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    config = TrainConfig.from_dict(data)
    _check_choices(config)
    return config


def _check_choices(config) -> None:
    """Every `Literal` field of `config` and its nested configs holds one of its choices."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            _check_choices(value)
        elif typing.get_origin(hints[f.name]) is Literal and value not in typing.get_args(hints[f.name]):
            choices = ", ".join(map(str, typing.get_args(hints[f.name])))
            raise ValueError(f"{f.name} is one of {choices}, got {value!r}")


def _parse_like(raw: str, current: Any) -> Any:
    if raw.lower() in ("none", "null"):
        return None
    if isinstance(current, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(raw)
    if current is None and "," in raw:  # a range into a field that is off, e.g. omega_range=1,3
        return tuple(float(x) for x in raw.split(","))
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    if current is None:
        try:
            return float(raw)
        except ValueError:
            return raw
    if isinstance(current, (tuple, list)):
        return tuple(float(x) for x in raw.split(","))
    return raw
