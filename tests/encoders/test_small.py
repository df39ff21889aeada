"""The small trainable encoder set of the embedded default model."""

from __future__ import annotations

import time

import numpy as np
import torch

from mfmjt_core.encoders import SmallEncoderConfig, SmallEncoders


def clip_8s(seed: int, size: int = 64):
    """8 s of a white square moving right on black, at 8 and 25 fps."""
    def video(fps):
        n = int(8 * fps)
        frames = np.zeros((1, n, size, size, 3), np.uint8)
        for i in range(n):
            x = int(i / n * (size - 8))
            frames[0, i, 20:28, x:x + 8] = 255
        return frames
    return video(8), video(25)


def test_shapes_normalisation_and_config():
    enc = SmallEncoders.create(generator=torch.Generator().manual_seed(0)).eval()
    f8, f25 = clip_8s(0)
    with torch.no_grad():
        clip_f, sync_f = enc.encode_video(f8, f25)
        text_f = enc.encode_text(["a red ball bounces", ""])
    shapes = enc.feature_shapes(8.0)
    assert clip_f.shape == (1, *shapes.clip) == (1, 64, 128)
    assert sync_f.shape == (1, *shapes.sync) == (1, 192, 128)
    assert text_f.shape == (2, *shapes.text) == (2, 77, 128)
    torch.testing.assert_close(clip_f.norm(dim=-1), torch.ones(1, 64))
    torch.testing.assert_close(text_f.norm(dim=-1), torch.ones(2, 77))
    # frames of another size are resized first: 224 px gives features of the same shape
    big = np.repeat(np.repeat(f25[:, :40], 4, axis=2), 4, axis=3)[:, :, :224, :224]
    with torch.no_grad():
        assert enc.encode_sync(big).shape == (1, 32, 128)
    cfg = SmallEncoderConfig(clip_dim=64, sync_dim=32, text_dim=48, text_heads=2)
    assert SmallEncoderConfig.from_dict(cfg.to_dict()) == cfg
    other = SmallEncoders.create(cfg)
    assert (other.clip_dim, other.sync_dim, other.text_dim) == (64, 32, 48)


def test_sync_tokens_follow_segment_layout_and_see_motion():
    enc = SmallEncoders.create(generator=torch.Generator().manual_seed(1)).eval()
    _, f25 = clip_8s(1)
    with torch.no_grad():
        sync_f = enc.encode_sync(f25)[0]
        # segments overlap by 8 frames = 4 tokens: token 4..7 of segment s = token 0..3 of s+1
        segs = sync_f.view(24, 8, -1)
        torch.testing.assert_close(segs[:-1, 4:], segs[1:, :4])
        # the same frames standing still (first frame repeated) give other features
        still = np.repeat(f25[:, :1], 200, axis=1)
        assert (enc.encode_sync(still)[0] - sync_f).abs().max() > 1e-2


def test_deterministic_creation_and_state_dict_round_trip():
    a = SmallEncoders.create(generator=torch.Generator().manual_seed(3)).eval()
    b = SmallEncoders.create(generator=torch.Generator().manual_seed(3)).eval()
    c = SmallEncoders.create(generator=torch.Generator().manual_seed(4)).eval()
    f8, f25 = clip_8s(2)
    with torch.no_grad():
        fa, fb, fc = a.encode_clip(f8), b.encode_clip(f8), c.encode_clip(f8)
        assert torch.equal(fa, fb) and not torch.allclose(fa, fc)
        loaded = SmallEncoders.from_state_dict(a.state_dict())
        assert torch.equal(loaded.encode_clip(f8), fa)
        assert torch.equal(loaded.encode_sync(f25), a.encode_sync(f25))
        assert torch.equal(loaded.encode_text(["hum"]), a.encode_text(["hum"]))


def test_trainable_every_parameter_gets_a_gradient():
    enc = SmallEncoders.create(generator=torch.Generator().manual_seed(5)).train()
    f8, f25 = clip_8s(3)
    clip_f, sync_f = enc.encode_video(f8[:, :8], f25[:, :24])
    text_f = enc.encode_text(["a scrape"])
    (clip_f.square().sum() + sync_f.square().sum() + (text_f * text_f.roll(1, -1)).sum()).backward()
    no_grad = [n for n, p in enc.named_parameters() if p.grad is None or not p.grad.any()]
    # only the embedding rows of unused token ids have zero gradient, not whole tensors
    assert no_grad == []


def test_fast_on_cpu():
    """Sanity bound only: about 0.04 s on an idle 2-core CPU, but the test machine is shared."""
    enc = SmallEncoders.create(generator=torch.Generator().manual_seed(6)).eval()
    f8, f25 = clip_8s(4)
    with torch.no_grad():
        enc.encode_video(f8, f25)  # warm-up
        times = []
        for _ in range(5):
            t = time.perf_counter()
            enc.encode_video(f8, f25)
            times.append(time.perf_counter() - t)
    assert min(times) < 1.0, times  # 8 s of 64 x 64 video
