"""Loading published state dicts: strict name/shape checks with typed errors, weight-norm folding.

Checkpoints store weight-normed convs as a magnitude g and a direction v, named either
`weight_g` / `weight_v` (`torch.nn.utils.weight_norm`) or `parametrizations.weight.original0` /
`original1` (`torch.nn.utils.parametrizations.weight_norm`). Our modules hold the plain product.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mfmjt_core.errors import WeightsError
from mfmjt_core.weights.loading import load_strict as strict_load


def load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str) -> None:
    """The project's strict loader, taking tensors as they are (modules built on meta)."""
    strict_load(module, state_dict, what=what, assign=True)


_WEIGHT_NORM_PAIRS = (
    (".weight_g", ".weight_v"),
    (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
)


def _weight_norm_pair(key: str) -> tuple[str, str, str] | None:
    """(prefix, g_suffix, v_suffix) when `key` is one half of a weight-norm pair."""
    for g_suffix, v_suffix in _WEIGHT_NORM_PAIRS:
        for suffix in (g_suffix, v_suffix):
            if key.endswith(suffix):
                return key[: -len(suffix)], g_suffix, v_suffix
    return None


def fold_weight_norm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every weight-norm pair (g, v) by `prefix.weight = v * g / |v|` (norm over dims > 0).

    Plain `weight` entries pass through, so any mix of stored forms loads. Works on meta tensors.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        pair = _weight_norm_pair(key)
        if pair is None:
            out[key] = value
            continue
        prefix, g_suffix, v_suffix = pair
        target = prefix + ".weight"
        if target in out:
            continue  # folded when the other half of the pair came by
        g, v = state_dict.get(prefix + g_suffix), state_dict.get(prefix + v_suffix)
        if g is None or v is None or target in state_dict:
            raise WeightsError(f"{prefix}: incomplete or duplicated weight-norm pair ({key})")
        if g.shape != (v.shape[0],) + (1,) * (v.ndim - 1):
            raise WeightsError(
                f"{prefix + g_suffix} has shape {tuple(g.shape)}, "
                f"expected ({v.shape[0]}{', 1' * (v.ndim - 1)})"
            )
        v32 = v.float()
        norm = torch.linalg.vector_norm(v32, dim=list(range(1, v.ndim)), keepdim=True)
        out[target] = (v32 * (g.float() / norm)).to(v.dtype)
    return out
