"""Weight averages of model files ("model soups"): runs trained on from one model, averaged.

Runs that start from the same weights and train on with different seeds or condition balances
stay in one basin, so their average is a model too, and usually a better one than each run
(Wortsman et al. 2022, "Model soups"). The shipped model is made this way (docs/training.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from mfmjt_core.model.file import read_model

# What a file's runs may change without changing the network: its record, its defaults and its
# name (`mfmjt train --init STUDENT` names its export after the recipe, not the student).
_PER_RUN = ("training", "defaults", "name")


def average_models(
    paths: Sequence[str | os.PathLike], weights: Sequence[float] | None = None, name: str | None = None
) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, config) of the weighted average of model files of one architecture.

    The config (defaults included) is the first file's, named `name` when given; its training
    record lists the parts.
    Raises ValueError when the files are not one architecture or the weights are unusable.
    """
    if len(paths) < 2:
        raise ValueError("averaging needs at least two model files")
    if name is not None and not name.strip():
        raise ValueError("the averaged model's name is empty")
    weights = [1.0 / len(paths)] * len(paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paths):
        raise ValueError(f"{len(weights)} weights for {len(paths)} model files")
    if any(w < 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {weights}")
    weights = [w / sum(weights) for w in weights]

    first_tensors, first_config = read_model(paths[0])
    total = {k: v.double() * weights[0] if v.is_floating_point() else v for k, v in first_tensors.items()}
    for path, weight in zip(paths[1:], weights[1:], strict=True):
        tensors, config = read_model(path)
        _check_same_architecture(paths[0], first_config, first_tensors, path, config, tensors)
        for key, value in tensors.items():
            if value.is_floating_point():
                total[key] += value.double() * weight
            elif not torch.equal(value, total[key]):
                raise ValueError(f"{path}: integer tensor {key} differs from {paths[0]}'s")
    averaged = {k: v.to(first_tensors[k].dtype) for k, v in total.items()}
    config = dict(first_config) | ({"name": name} if name else {})
    config["training"] = {**first_config.get("training", {}),
                          "soup_of": [f"{os.fspath(p)} x {w:.6g}" for p, w in zip(paths, weights, strict=True)]}
    return averaged, config


def _check_same_architecture(first_path, first_config: dict, first_tensors: dict,
                             path, config: dict, tensors: dict) -> None:
    for key in sorted(set(first_config) | set(config)):
        if key not in _PER_RUN and first_config.get(key) != config.get(key):
            raise ValueError(f"{path} and {first_path} differ in {key!r}: not one architecture")
    if set(tensors) != set(first_tensors):
        missing = sorted(set(first_tensors) ^ set(tensors))[:3]
        raise ValueError(f"{path} and {first_path} hold different tensors (e.g. {missing})")
    for key, value in tensors.items():
        if value.shape != first_tensors[key].shape:
            raise ValueError(f"{path}: {key} is {tuple(value.shape)}, {first_path}'s {tuple(first_tensors[key].shape)}")
