"""Read checkpoints safely and load them strictly, with errors a person can act on.

Pickled checkpoints are read with `torch.load(weights_only=True)` only: a file from outside
never runs code. Any read failure (truncated zip, garbage, a pickle that needs code) becomes a
WeightsError; a missing file becomes a MissingWeightsError that names `mfmjt fetch`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mfmjt_core.errors import MissingWeightsError, WeightsError

if TYPE_CHECKING:
    import torch
    from torch import nn

_MAX_LISTED = 12


class StateDictMismatchError(WeightsError):
    """A state dict does not fit a module; lists the missing, unexpected and mis-shaped keys."""

    def __init__(
        self,
        what: str,
        missing: list[str],
        unexpected: list[str],
        mismatched: list[tuple[str, tuple, tuple]],
    ):
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
        if mismatched:
            shapes = [f"{k} (file {tuple(a)} vs model {tuple(b)})" for k, a, b in mismatched]
            parts.append(f"{len(mismatched)} mis-shaped: {_listing(shapes)}")
        super().__init__(f"{what} does not fit the model: " + "; ".join(parts))


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f", ... and {more} more" if more > 0 else "")


def load_checkpoint(
    path: str | os.PathLike,
    *,
    key: str | None = None,
    map_location: str | torch.device = "cpu",
    fetch_hint: str | None = None,
) -> dict[str, torch.Tensor]:
    """Read a state dict from a `.safetensors` file or a weights-only torch checkpoint.

    `key` selects a nested state dict (e.g. "generator" in the 16 kHz vocoder file).
    `fetch_hint` is the bundle name used in the missing-file message.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        how = f"`mfmjt fetch {fetch_hint}`" if fetch_hint else "`mfmjt fetch BUNDLE`"
        raise MissingWeightsError(
            f"weights file {path} does not exist. Run {how} (`mfmjt models` lists bundles), "
            f"or copy the file into {path.parent}"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device=str(map_location))
        else:
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # every reader failure means the same thing to the user
        raise WeightsError(
            f"{path}: cannot read checkpoint (truncated, corrupt, or not a plain weights file): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            keys = list(obj)[:_MAX_LISTED] if isinstance(obj, Mapping) else type(obj).__name__
            raise WeightsError(f"{path}: no {key!r} entry in the checkpoint (has {keys})")
        obj = obj[key]
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path}: expected a state dict, found {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(
            f"{path}: entries that are not tensors: {_listing([str(k) for k in bad])}"
            + ("" if key else " (a nested checkpoint? pass key=...)")
        )
    return dict(obj)


def select_prefix(
    state_dict: Mapping[str, torch.Tensor], prefix: str, *, strip: bool = False
) -> dict[str, torch.Tensor]:
    """Entries whose names start with `prefix` (optionally with the prefix removed)."""
    n = len(prefix) if strip else 0
    return {k[n:]: v for k, v in state_dict.items() if k.startswith(prefix)}


def check_state_dict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    ignore_prefixes: Iterable[str] = (),
    what: str = "state dict",
) -> None:
    """Raise StateDictMismatchError unless names and shapes match the module exactly.

    Names starting with one of `ignore_prefixes` are skipped on both sides (e.g. a module the
    file predates, or buffers the file carries but the module recomputes).
    """
    ignore = tuple(ignore_prefixes)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()
                if not k.startswith(ignore)}
    given = {k: tuple(v.shape) for k, v in state_dict.items() if not k.startswith(ignore)}
    missing = sorted(k for k in expected if k not in given)
    unexpected = sorted(k for k in given if k not in expected)
    mismatched = sorted((k, given[k], expected[k]) for k in given
                        if k in expected and given[k] != expected[k])
    if missing or unexpected or mismatched:
        raise StateDictMismatchError(what, missing, unexpected, mismatched)


def load_strict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    ignore_prefixes: Iterable[str] = (),
    what: str = "state dict",
    assign: bool = False,
) -> None:
    """Load `state_dict` into `module`; any missing, unexpected or mis-shaped key is an error.

    Entries under `ignore_prefixes` are neither required nor loaded. `assign=True` takes the
    tensors as they are (materialises a module built on the meta device).
    """
    ignore = tuple(ignore_prefixes)
    check_state_dict(module, state_dict, ignore_prefixes=ignore, what=what)
    kept = {k: v for k, v in state_dict.items() if not k.startswith(ignore)}
    module.load_state_dict(kept, strict=not ignore, assign=assign)
