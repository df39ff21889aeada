"""Frame arithmetic, frame conversion and the text cache of the encoder interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfmjt_core.encoders.encoder_set import (
    EncoderSet,
    as_float_frames,
    clip_frame_count,
    split_segments,
    sync_frame_count,
    sync_segment_count,
)
from mfmjt_core.errors import MediaError


def test_mmaudio_sequence_lengths():
    assert clip_frame_count(8.0) == 64 and sync_frame_count(8.0) == 200
    assert sync_segment_count(200) == 24  # 24 segments x 8 tokens = 192
    assert sync_segment_count(16) == 1 and sync_segment_count(23) == 1
    assert sync_segment_count(24) == 2 and sync_segment_count(15) == 0
    # MMAudio's float arithmetic for odd durations: 5.1 s -> 127.5 frames -> 14 segments
    assert sync_segment_count(sync_frame_count(5.1)) == 14 and clip_frame_count(5.1) == 40


def test_split_segments_windows():
    frames = torch.arange(40).view(1, 40, 1, 1, 1).expand(2, 40, 3, 2, 2)
    segs = split_segments(frames)
    assert segs.shape == (2, 4, 16, 3, 2, 2)  # (40 - 16) // 8 + 1
    for s in range(4):
        assert segs[1, s, :, 0, 0, 0].tolist() == list(range(8 * s, 8 * s + 16))
    with pytest.raises(MediaError, match="16 frames"):
        split_segments(frames[:, :15])


def test_frames_become_float_channels_first():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 3, 5, 7, 3), dtype=np.uint8)
    x = as_float_frames(frames, torch.device("cpu"))
    assert x.shape == (2, 3, 3, 5, 7) and x.dtype == torch.float32
    assert x[1, 2, 0, 4, 6].item() == pytest.approx(frames[1, 2, 4, 6, 0] / 255)
    assert torch.equal(as_float_frames(torch.from_numpy(frames), torch.device("cpu")), x)
    with pytest.raises(MediaError):
        as_float_frames(frames[..., :2], torch.device("cpu"))


class CountingEncoders(EncoderSet):
    """Minimal set: text features are a function of the prompt length; counts calls."""

    def __init__(self, cache_size=2):
        super().__init__(cache_size)
        self.w = torch.nn.Parameter(torch.ones(()))
        self.calls: list[list[str]] = []

    clip_dim = sync_dim = text_dim = 4  # type: ignore[assignment]

    def _clip_features(self, frames):
        return frames.mean((2, 3, 4))[..., None].expand(-1, -1, 4)

    def _sync_features(self, frames):
        per_frame = split_segments(frames).mean((3, 4, 5))  # (B, S, 16)
        return per_frame[:, :, ::2].flatten(1, 2)[..., None].expand(-1, -1, 4)

    def _text_features(self, prompts):
        self.calls.append(list(prompts))
        lengths = torch.tensor([float(len(p)) for p in prompts])
        return self.w * lengths.view(-1, 1, 1).expand(-1, 77, 4)


def test_text_cache_is_lru_and_off_in_training():
    enc = CountingEncoders(cache_size=2).eval()
    out = enc.encode_text(["aa", "b", "aa"])
    assert out.shape == (3, 77, 4) and out[:, 0, 0].tolist() == [2, 1, 2]
    assert enc.calls == [["aa", "b"]]
    enc.encode_text(["b"])
    enc.encode_text(["ccc"])  # evicts "aa", the least recently used
    enc.encode_text(["b", "aa"])
    assert enc.calls == [["aa", "b"], ["ccc"], ["aa"]]
    enc.train()
    out = enc.encode_text(["b"])
    assert out.requires_grad and enc.calls[-1] == ["b"]  # training: fresh and differentiable
    enc.eval()
    enc.encode_text(["b"])
    assert enc.calls[-1] == ["b"] and len(enc.calls) == 5  # train() cleared the cache


def test_feature_shapes_and_encode_video():
    enc = CountingEncoders().eval()
    shapes = enc.feature_shapes(8.0)
    assert shapes.clip == (64, 4) and shapes.sync == (192, 4) and shapes.text == (77, 4)
    f8 = np.zeros((1, 64, 6, 6, 3), np.uint8)
    f25 = np.zeros((1, 200, 6, 6, 3), np.uint8)
    clip_f, sync_f = enc.encode_video(f8, f25)
    assert clip_f.shape == (1, 64, 4) and sync_f.shape == (1, 192, 4)
