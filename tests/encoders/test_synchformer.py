"""Synchformer's visual branch: the published layout, strict loading, and invariances.

Its numerics are checked against MMAudio's reference output (golden/synchformer_tiny.pt) from
raw frames in tests/encoders/test_mmaudio_goldens.py. Here: names and shapes of the published
file, segments encoded independently, chunked encoding equal to one pass.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mfmjt_core.encoders.synchformer import SYNCHFORMER, SynchformerConfig, SynchformerVisual
from mfmjt_core.errors import MediaError
from mfmjt_core.weights import StateDictMismatchError

TINY = SynchformerConfig(image_size=32, patch_size=16, dim=16, depth=2, heads=2)


def tiny_model(seed: int = 0) -> SynchformerVisual:
    """Random weights large enough (unlike a 0.02-std init) that every branch matters."""
    model = SynchformerVisual.create(TINY)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.2 * noise if "norm" in name and name.endswith("weight") else 0.4 * noise)
    return model


def test_published_manifest_loads_strictly(load_manifest):
    manifest = load_manifest("synchformer")["state_dict"]
    assert len(manifest) == 238
    model = SynchformerVisual.create()
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == manifest
    # the published file also holds the audio branch and the sync head: dropped on load
    sd = {k: torch.full(shape, i * 1e-3) for i, (k, shape) in enumerate(manifest.items())}
    sd["afeat_extractor.patch_embed.proj.weight"] = torch.zeros(768, 1, 16, 16)
    sd["transformer.blocks.0.attn.qkv.weight"] = torch.zeros(3, 3)
    model.load_published(sd)
    i = list(manifest).index("vfeat_extractor.blocks.11.timeattn.qkv.weight")
    assert torch.all(model.vfeat_extractor.blocks[11].timeattn.qkv.weight == i * 1e-3)


def test_wrong_checkpoint_is_rejected_with_key_list():
    sd = tiny_model().state_dict()
    del sd["vfeat_extractor.norm.bias"]
    sd["vfeat_extractor.temp_embed"] = torch.zeros(1, 4, 16)
    with pytest.raises(StateDictMismatchError) as info:
        tiny_model(1).load_published(sd)
    assert info.value.missing == ["vfeat_extractor.norm.bias"]
    assert info.value.mismatched == [("vfeat_extractor.temp_embed", (1, 4, 16), (1, 8, 16))]


def test_full_geometry_gives_8_tokens_of_768_per_segment():
    cfg = dataclasses.replace(SYNCHFORMER, depth=1)  # full widths and grid, one block (speed)
    model = SynchformerVisual.create(cfg, generator=torch.Generator().manual_seed(0))
    frames = torch.rand(1, 16, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out = model.encode_frames(frames)
    assert out.shape == (1, 8, 768) and torch.isfinite(out).all()


def test_segments_are_independent_and_normalised_from_0_1():
    model = tiny_model(5)
    frames = torch.rand(2, 40, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        feats = model.encode_frames(frames)  # 4 segments: starts 0, 8, 16, 24
        assert feats.shape == (2, 32, 16)
        for s in range(4):
            alone = model.encode_frames(frames[:, 8 * s:8 * s + 16])
            torch.testing.assert_close(feats[:, 8 * s:8 * s + 8], alone, atol=1e-5, rtol=1e-5)
        # frames in [0, 1] are normalised with mean = std = 0.5 before the network
        direct = model(frames[:1, :16].transpose(1, 2) * 2 - 1)
        torch.testing.assert_close(feats[:1, :8], direct, atol=1e-5, rtol=1e-5)
        chunked = model.encode_frames(frames, segments_per_batch=3)
        torch.testing.assert_close(chunked, feats, atol=1e-5, rtol=1e-5)
    with pytest.raises(MediaError):
        model.encode_frames(frames[:, :12])


def test_from_file_keeps_only_the_visual_branch(tmp_path):
    model = tiny_model(7)
    sd = dict(model.state_dict())
    sd["afeat_extractor.blocks.0.norm1.weight"] = torch.ones(3)
    sd["vproj.weight"] = torch.ones(2, 2)
    torch.save(sd, tmp_path / "synchformer_state_dict.pth")
    loaded = SynchformerVisual.from_file(tmp_path / "synchformer_state_dict.pth", TINY)
    seg = torch.randn(1, 3, 16, 32, 32, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        assert torch.equal(loaded(seg), model(seg))
