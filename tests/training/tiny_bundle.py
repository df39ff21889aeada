"""The mmaudio-small-16k bundle's files in their published layouts, with tiny random weights
(the shapes of tests/weights/test_published.py), for tests that need a published teacher."""

from __future__ import annotations

from pathlib import Path

import torch
from open_clip.model import CLIP

from mfmjt_core.codec.bigvgan import BigVGANGenerator
from mfmjt_core.codec.vae import MelVAE
from mfmjt_core.encoders import SynchformerVisual
from mfmjt_core.network import build_network
from mfmjt_core.weights.registry import DEFAULT_REGISTRY
from tests.weights.test_published import CLIP_TINY, SHAPES

__all__ = ["SHAPES", "write_tiny_bundle"]


def write_tiny_bundle(cache: Path, name: str = "mmaudio-small-16k") -> Path:
    """Write the bundle's files under `cache` (a cache folder for `load_published`)."""
    reg = DEFAULT_REGISTRY
    where = {role: cache / reg.artifact(artifact).relpath for role, artifact in dict(reg.bundle(name).roles).items()}
    for path in where.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    net = build_network(SHAPES.network, generator=g, interval_embedding=False)
    with torch.no_grad():
        for p in net.parameters():  # a "trained" network: every layer does something
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    torch.save(net.state_dict(), where["network"])
    torch.save(MelVAE(SHAPES.vae).init_random_(g).state_dict(), where["vae"])
    torch.save({"generator": BigVGANGenerator(SHAPES.vocoder).init_random_(g).state_dict()}, where["vocoder"])
    sync = SynchformerVisual.create(SHAPES.sync, generator=g)
    torch.save({**sync.state_dict(), "afeat_extractor.cls_token": torch.zeros(1, 1, 16)}, where["synchformer"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        torch.save(CLIP(**CLIP_TINY).state_dict(), where["clip"])
    return cache
