"""A published-layout bundle (tiny synthetic weights) loads into a generator and samples like
MMAudio (flow matching, Euler steps, CFG), and converts into a MeanFlow starting point."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import torch
from open_clip.model import CLIP

from mfmjt_core.codec.bigvgan import BigVGANConfig, BigVGANGenerator
from mfmjt_core.codec.vae import MelVAE, VAEConfig
from mfmjt_core.encoders import SynchformerConfig, SynchformerVisual
from mfmjt_core.errors import MissingWeightsError, WeightsError
from mfmjt_core.modelfile import read_model
from mfmjt_core.network import NetworkConfig, build_network
from mfmjt_core.pipeline.generator import Generator
from mfmjt_core.published import PublishedShapes, load_published, save_meanflow_start
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


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The small_16k bundle's files, in their published layouts, with tiny shapes."""
    cache = tmp_path_factory.mktemp("cache")
    reg = DEFAULT_REGISTRY
    roles = dict(reg.bundle("mmaudio-small-16k").roles)
    where = {role: cache / reg.artifact(name).relpath for role, name in roles.items()}
    for path in where.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    net = build_network(SHAPES.network, generator=g, interval_embedding=False)
    with torch.no_grad():
        for p in net.parameters():  # a "trained" network: every layer does something
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    state = dict(net.state_dict())
    state["t_embed.freqs"] = net.t_embed.freqs  # stale buffers old checkpoints still carry
    torch.save(state, where["network"])
    torch.save(MelVAE(SHAPES.vae).init_random_(g).state_dict(), where["vae"])
    torch.save({"generator": BigVGANGenerator(SHAPES.vocoder).init_random_(g).state_dict()}, where["vocoder"])
    sync = SynchformerVisual.create(SHAPES.sync, generator=g)
    torch.save({**sync.state_dict(), "afeat_extractor.cls_token": torch.zeros(1, 1, 16)}, where["synchformer"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        torch.save(CLIP(**CLIP_TINY).state_dict(), where["clip"])
    return cache, where


def test_bundle_generates_like_mmaudio(bundle, tmp_path):
    from mfmjt_core.media import write_video

    cache, _ = bundle
    model = load_published("mmaudio-small-16k", cache=cache, shapes=SHAPES)
    assert model.spec.objective == "fm" and model.spec.defaults.steps == 25 and model.spec.defaults.guidance == 4.5
    assert not model.net.h_embed.mlp[2].weight.any()  # the MeanFlow embedding starts at zero
    frames = np.random.default_rng(0).integers(0, 255, (50, 48, 64, 3), dtype=np.uint8)
    video = write_video(tmp_path / "v.mp4", frames, Fraction(25))
    result = Generator(model).generate(video=video, seed=3, steps=2, prompt="a dog barks")
    assert result.audio.shape == (1, 1, 2 * 48_000) and np.isfinite(result.audio).all()
    assert result.model == "mmaudio-small-16k"


def test_meanflow_starting_point(bundle, tmp_path):
    cache, _ = bundle
    model = load_published("mmaudio-small-16k", cache=cache, shapes=SHAPES)
    path = save_meanflow_start(model, tmp_path / "start.safetensors")
    tensors, config = read_model(path)
    assert config["objective"] == "meanflow" and config["encoders"] == {
        "kind": "mmaudio",
        "bundle": "mmaudio-small-16k",
    }
    assert all(k.startswith("net.") for k in tensors)
    assert not tensors["net.h_embed.mlp.2.weight"].any()


def test_missing_and_broken_files(bundle, tmp_path):
    cache, where = bundle
    with pytest.raises(MissingWeightsError, match="mfmjt fetch mmaudio-small-16k"):
        load_published("mmaudio-small-16k", cache=tmp_path / "empty", shapes=SHAPES)
    broken = tmp_path / "broken"
    for role, path in where.items():
        target = broken / path.relative_to(cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes()[: 1000] if role == "network" else path.read_bytes())
    with pytest.raises(WeightsError):
        load_published("mmaudio-small-16k", cache=broken, shapes=SHAPES)
    wrong = dataclasses.replace(SHAPES, network=dataclasses.replace(SHAPES.network, hidden_dim=32))
    with pytest.raises(WeightsError, match="mis-shaped"):
        load_published("mmaudio-small-16k", cache=cache, shapes=wrong)
