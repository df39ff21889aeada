"""The MM-DiT network: variants, construction, and the adapter to the project's convention."""

from __future__ import annotations

import contextlib

import torch

from mfmjt_core.network.config import VARIANTS, NetworkConfig, SequenceConfig, get_config
from mfmjt_core.network.mmdit import MMDiT, ProjectedConditions

# State-dict entries that are ours, not MMAudio's (loaded non-strictly from MMAudio checkpoints).
OWN_PREFIXES = ("h_embed.", "w_embed.")
# Non-persistent buffers that some published checkpoints still contain.
STALE_KEYS = ("t_embed.freqs", "latent_rot", "clip_rot")


def build_network(
    variant: str | NetworkConfig,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    **overrides,
) -> MMDiT:
    """Build a variant by name or config; `device="meta"` builds without allocating memory;
    `generator` makes the initial weights reproducible."""
    import dataclasses

    config = get_config(variant)
    if overrides:
        config = dataclasses.replace(config, **overrides)
    with torch.device(device) if device is not None else contextlib.nullcontext():
        return MMDiT(config, generator=generator)


__all__ = [
    "OWN_PREFIXES",
    "STALE_KEYS",
    "VARIANTS",
    "MMDiT",
    "NetworkConfig",
    "ProjectedConditions",
    "SequenceConfig",
    "build_network",
    "get_config",
]
