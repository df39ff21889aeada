"""The mmaudio-small-16k bundle's files in their published layouts, with tiny random weights, for
tests that load a published bundle (the loaders, a distillation teacher)."""

from __future__ import annotations

from pathlib import Path

import torch
from open_clip.model import CLIP

from mfmjt_core.codec.bigvgan import BigVGANConfig, BigVGANGenerator
from mfmjt_core.codec.vae import MelVAE, VAEConfig
from mfmjt_core.encoders import SynchformerConfig, SynchformerVisual
from mfmjt_core.model.published import PublishedShapes
from mfmjt_core.network import NetworkConfig, build_network
from mfmjt_core.weights.registry import DEFAULT_REGISTRY

CLIP_TINY = dict(
    embed_dim=16, quick_gelu=True,
    vision_cfg=dict(image_size=28, layers=1, width=32, head_width=16, patch_size=14),
    text_cfg=dict(context_length=77, vocab_size=49408, width=24, heads=2, layers=1),
)
SHAPES = PublishedShapes(
    network=NetworkConfig(name="tiny_pub", latent_dim=20, hidden_dim=64, depth=3, fused_depth=1, num_heads=1,
                          clip_dim=16, sync_dim=16, text_dim=24),
    vae=VAEConfig(data_dim=80, embed_dim=20, hidden_dim=16),
    vocoder=BigVGANConfig(num_mels=80, upsample_rates=(4, 4, 2, 2, 2, 2), upsample_kernel_sizes=(8, 8, 4, 4, 4, 4),
                          upsample_initial_channel=64, resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1,),)),
    clip=CLIP_TINY, clip_image_size=28,
    sync=SynchformerConfig(image_size=32, patch_size=16, dim=16, depth=1, heads=2),
)


def write_tiny_bundle(cache: Path, name: str = "mmaudio-small-16k", *,
                      stale_buffers: bool = False) -> dict[str, Path]:
    """Write the bundle's files under `cache` (a cache folder for `load_published`); return each
    role's path. `stale_buffers` adds the buffers old published checkpoints still carry."""
    reg = DEFAULT_REGISTRY
    where = {role: cache / reg.artifact(artifact).relpath for role, artifact in dict(reg.bundle(name).roles).items()}
    for path in where.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    net = build_network(SHAPES.network, generator=g, interval_embedding=False)
    with torch.no_grad():
        for p in net.parameters():  # a "trained" network: every layer does something
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    state = dict(net.state_dict())
    if stale_buffers:
        state["t_embed.freqs"] = net.t_embed.freqs
    torch.save(state, where["network"])
    torch.save(MelVAE(SHAPES.vae).init_random_(g).state_dict(), where["vae"])
    torch.save({"generator": BigVGANGenerator(SHAPES.vocoder).init_random_(g).state_dict()}, where["vocoder"])
    sync = SynchformerVisual.create(SHAPES.sync, generator=g)
    torch.save({**sync.state_dict(), "afeat_extractor.cls_token": torch.zeros(1, 1, 16)}, where["synchformer"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        torch.save(CLIP(**CLIP_TINY).state_dict(), where["clip"])
    return where
