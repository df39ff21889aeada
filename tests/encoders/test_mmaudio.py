"""MMAudio's encoder set end to end on tiny CLIP / Synchformer weights written to disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from open_clip.model import CLIP

from mfmjt_core.encoders import MMAudioEncoders, SynchformerConfig, SynchformerVisual
from mfmjt_core.errors import MissingWeightsError

CLIP_TINY = dict(
    embed_dim=16, quick_gelu=True,
    vision_cfg=dict(image_size=28, layers=1, width=32, head_width=16, patch_size=14),
    text_cfg=dict(context_length=77, vocab_size=49408, width=24, heads=2, layers=1),
)
SYNC_TINY = SynchformerConfig(image_size=32, patch_size=16, dim=16, depth=1, heads=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(CLIP(**CLIP_TINY).state_dict(), root / "open_clip_pytorch_model.bin")
    sync = SynchformerVisual.create(SYNC_TINY, generator=torch.Generator().manual_seed(1))
    sd = dict(sync.state_dict())
    sd["afeat_extractor.cls_token"] = torch.zeros(1, 1, 16)
    torch.save(sd, root / "synchformer_state_dict.pth")
    return root


def test_encode_video_and_text(files):
    enc = MMAudioEncoders.from_files(
        files / "open_clip_pytorch_model.bin", files / "synchformer_state_dict.pth",
        clip_cfg=CLIP_TINY, clip_image_size=28, sync_cfg=SYNC_TINY,
    )
    rng = np.random.default_rng(0)
    f8 = rng.integers(0, 256, (2, 16, 28, 28, 3), dtype=np.uint8)  # 2 s at 8 fps
    f25 = rng.integers(0, 256, (2, 50, 32, 32, 3), dtype=np.uint8)  # 2 s at 25 fps
    clip_f, sync_f = enc.encode_video(f8, f25)
    shapes = enc.feature_shapes(2.0)
    assert clip_f.shape == (2, *shapes.clip) == (2, 16, 16)
    assert sync_f.shape == (2, *shapes.sync) == (2, 40, 16)  # (50 - 16) // 8 + 1 = 5 segments
    torch.testing.assert_close(clip_f.norm(dim=-1), torch.ones(2, 16))
    assert not clip_f.requires_grad and not sync_f.requires_grad
    # a batch item's features do not depend on the other item
    c1, s1 = enc.encode_video(f8[1:], f25[1:])
    torch.testing.assert_close(c1, clip_f[1:])
    torch.testing.assert_close(s1, sync_f[1:], atol=1e-5, rtol=1e-5)
    text = enc.encode_text(["a ball hits the floor", ""])
    assert text.shape == (2, 77, 24) and enc.text_dim == 24 and enc.clip_dim == 16
    assert torch.equal(enc.encode_text([""])[0], text[1])  # served from the cache
    enc.train()
    assert not enc.training  # frozen set stays in eval mode


def test_from_bundle_without_weights_names_fetch(tmp_path):
    with pytest.raises(MissingWeightsError, match="mfmjt fetch mmaudio-small-16k"):
        MMAudioEncoders.from_bundle("mmaudio-small-16k", cache=tmp_path)
