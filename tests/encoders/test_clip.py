"""CLIP through open_clip: the tiny-config code path, loading from disk, the ViT-H layout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from safetensors.torch import save_file

from mfmjt_core.encoders.clip import (
    OPENAI_MEAN,
    OPENAI_STD,
    ClipEncoder,
    build_clip,
    clip_config,
)
from mfmjt_core.weights import StateDictMismatchError

# Same families as ViT-H-14-378-quickgelu (ViT image tower, causal text transformer,
# QuickGELU), tiny widths. 28 px at patch 14 -> a 2 x 2 grid.
TINY = dict(
    embed_dim=16, quick_gelu=True,
    vision_cfg=dict(image_size=28, layers=2, width=32, head_width=16, patch_size=14),
    text_cfg=dict(context_length=77, vocab_size=49408, width=24, heads=2, layers=2),
)


@pytest.fixture(scope="module")
def reference():
    """open_clip's own model with random weights (drawn from a private RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return CLIP(**TINY).eval()


@pytest.fixture(scope="module")
def encoder(reference):
    return ClipEncoder.from_state_dict(reference.state_dict(), TINY, image_size=28)


def test_tokenizer_is_offline_and_clip_shaped(encoder):
    tokens = encoder.tokenize(["a red ball bounces", ""])
    assert tokens.shape == (2, 77)
    assert tokens[0, 0] == 49406 and 49407 in tokens[0].tolist()  # start / end of text
    assert tokens[1, :2].tolist() == [49406, 49407] and tokens[1, 2:].abs().sum() == 0


def test_text_features_are_all_tokens_after_ln_final(encoder, reference):
    tokens = encoder.tokenize(["a red ball bounces", "low hum", ""])
    feats = encoder.encode_tokens(tokens)
    assert feats.shape == (3, 77, 24)  # text width, not embed_dim: no projection
    torch.testing.assert_close(feats.norm(dim=-1), torch.ones(3, 77))
    # open_clip pools the end-of-text token and projects it: ours must agree at that token
    eot = tokens.argmax(dim=-1)
    pooled = F.normalize(feats[torch.arange(3), eot] @ reference.text_projection, dim=-1)
    torch.testing.assert_close(pooled, reference.encode_text(tokens, normalize=True))
    # causal: tokens before the end do not see the padding after it
    torch.testing.assert_close(encoder.encode_text(["low hum"])[0, :4], feats[1, :4])


def test_image_features_use_openai_normalisation(encoder, reference):
    images = torch.rand(5, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    feats = encoder.encode_images(images, batch_size=2)
    mean, std = torch.tensor(OPENAI_MEAN).view(3, 1, 1), torch.tensor(OPENAI_STD).view(3, 1, 1)
    expected = reference.encode_image((images - mean) / std, normalize=True)
    assert feats.shape == (5, 16)
    torch.testing.assert_close(feats, expected)
    torch.testing.assert_close(encoder.encode_images(images), feats)  # deterministic
    # a slightly larger frame (as 384 on the 378 config) keeps the grid: extra pixels unused
    bigger = F.pad(images, (0, 2, 0, 2))
    torch.testing.assert_close(encoder.model.encode_image((bigger - mean) / std, normalize=True),
                               expected)


@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
def test_loads_a_saved_checkpoint(tmp_path, reference, suffix):
    sd = reference.state_dict()
    path = tmp_path / f"open_clip_model{suffix}"
    if suffix == ".bin":
        torch.save({f"module.{k}": v for k, v in sd.items()}, path)  # DataParallel-style keys
    else:
        save_file({k: v.contiguous() for k, v in sd.items()}, path)
    enc = ClipEncoder.from_file(path, TINY, image_size=28)
    images = torch.rand(2, 3, 28, 28, generator=torch.Generator().manual_seed(2))
    ref = ClipEncoder(reference, image_size=28)
    torch.testing.assert_close(enc.encode_images(images), ref.encode_images(images))
    torch.testing.assert_close(enc.encode_text(["hum"]), ref.encode_text(["hum"]))


def test_wrong_architecture_is_rejected(reference):
    sd = reference.state_dict()
    sd.pop("ln_final.bias")
    with pytest.raises(StateDictMismatchError, match="ln_final.bias"):
        ClipEncoder.from_state_dict(sd, TINY)


def test_vit_h_14_378_layout_on_meta():
    """The published DFN5B ViT-H/14 layout, without allocating its 4 GB."""
    cfg = clip_config()
    assert cfg["quick_gelu"] and cfg["vision_cfg"]["patch_size"] == 14
    model = build_clip(cfg, "meta")
    sd = model.state_dict()
    assert len(sd) == 686
    assert 986e6 < sum(v.numel() for v in sd.values()) < 987e6
    shapes = {
        "visual.conv1.weight": (1280, 3, 14, 14),
        "visual.positional_embedding": (730, 1280),  # 27 x 27 + CLS
        "visual.transformer.resblocks.31.attn.in_proj_weight": (3840, 1280),
        "visual.proj": (1280, 1024),
        "token_embedding.weight": (49408, 1024),
        "positional_embedding": (77, 1024),
        "transformer.resblocks.23.mlp.c_fc.weight": (4096, 1024),
        "ln_final.weight": (1024,),
        "text_projection": (1024, 1024),
        "logit_scale": (),
    }
    for name, shape in shapes.items():
        assert tuple(sd[name].shape) == shape, name
    # a state dict of exactly this layout passes the strict check
    from mfmjt_core.weights import check_state_dict

    check_state_dict(model, {k: v for k, v in sd.items()})
    enc = ClipEncoder(model)
    assert enc.image_dim == 1024 and enc.text_dim == 1024 and enc.context_length == 77
