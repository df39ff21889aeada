"""Synchformer's visual branch: the published layout, strict loading, and its semantics.

No golden output exists for Synchformer, so the forward pass is checked against a slow,
loop-by-token reference written from the description of MotionFormer (which tokens each token
attends to, the order of the three residual branches, the position embeddings, the per-frame
CLS pooling), plus invariances: segments are encoded independently.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

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


# ---- slow reference, one token at a time ----

def ref_attention(x, qkv, proj, heads, groups):
    """groups[i] = indices token i attends to; qkv rows are [q | k | v], heads contiguous."""
    n, d = x.shape
    hd = d // heads
    q, k, v = (x @ qkv.weight.T + qkv.bias).split(d, dim=-1)
    out = torch.zeros(n, d)
    for i in range(n):
        keys = groups[i]
        for h in range(heads):
            sl = slice(h * hd, (h + 1) * hd)
            w = torch.softmax(k[keys, sl] @ q[i, sl] / math.sqrt(hd), dim=0)
            out[i, sl] = w @ v[keys, sl]
    return out @ proj.weight.T + proj.bias


def ref_forward(model: SynchformerVisual, segment: torch.Tensor) -> torch.Tensor:
    """One normalised segment (3, 16, H, W) -> (8, D), written from the description."""
    cfg, m = model.cfg, model.vfeat_extractor
    g, T, P = cfg.grid, cfg.time_steps, cfg.places
    conv = m.patch_embed_3d.proj
    tokens = [m.cls_token[0, 0] + m.pos_embed[0, 0]]
    for t in range(T):
        for r in range(g):
            for c in range(g):
                cube = segment[:, 2 * t:2 * t + 2, 16 * r:16 * r + 16, 16 * c:16 * c + 16]
                patch = conv.weight.flatten(1) @ cube.flatten() + conv.bias
                tokens.append(patch + m.pos_embed[0, 1 + r * g + c] + m.temp_embed[0, t])
    x = torch.stack(tokens)
    index = lambda t, p: 1 + t * P + p
    everyone = list(range(1 + T * P))
    time_groups = [everyone] + [[0] + [index(tt, p) for tt in range(T)]
                                for t in range(T) for p in range(P)]
    space_groups = [everyone] + [[0] + [index(t, pp) for pp in range(P)]
                                 for t in range(T) for p in range(P)]
    for b in m.blocks:
        x = x + ref_attention(b.norm3(x), b.timeattn.qkv, b.timeattn.proj, cfg.heads, time_groups)
        x = x + ref_attention(b.norm1(x), b.attn.qkv, b.attn.proj, cfg.heads, space_groups)
        x = x + b.mlp.fc2(F.gelu(b.mlp.fc1(b.norm2(x))))
    x = m.norm(x[1:])
    agg = m.spatial_attn_agg
    mha = agg.self_attn
    out = []
    for t in range(T):
        y = torch.cat([agg.cls_token[0], x[t * P:(t + 1) * P]])
        qkv = SimpleNamespace(weight=mha.in_proj_weight, bias=mha.in_proj_bias)
        full = [list(range(P + 1))] * (P + 1)
        y = y + ref_attention(agg.norm1(y), qkv, mha.out_proj, cfg.heads, full)
        y = y + agg.linear2(F.gelu(agg.linear1(agg.norm2(y))))
        out.append(y[0])
    return torch.stack(out)


def test_matches_token_by_token_reference():
    model = tiny_model(3)
    segment = torch.randn(1, 3, 16, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        fast = model(segment)[0]
        slow = ref_forward(model, segment[0])
    assert fast.shape == (8, 16)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)


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
