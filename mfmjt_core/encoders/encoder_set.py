"""The interface every conditioning encoder set implements, and MMAudio's frame arithmetic.

An encoder set turns decoded video (8 fps frames for the CLIP-like features, 25 fps frames for
the sync features) and prompts into the three feature sequences the network is conditioned on:
clip_f (B, T8, clip_dim), sync_f (B, segments * 8, sync_dim), text_f (B, 77, text_dim).
Sync features come in 16-frame segments with stride 8, 8 tokens per segment, so 8 s of 25 fps
video (200 frames) gives (200 - 16) // 8 + 1 = 24 segments = 192 tokens.

Text features are cached per prompt (small LRU, eval mode only so training gets gradients);
image features are the caller's to cache (the daemon caches per range).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mfmjt_core.errors import MediaError
from mfmjt_core.media.video import CLIP_FPS, SYNC_FPS  # the frame rates the encoders read

TEXT_LENGTH = 77
SEGMENT_FRAMES = 16
SEGMENT_STRIDE = 8
TOKENS_PER_SEGMENT = 8


def clip_frame_count(duration: float, fps: float = CLIP_FPS) -> int:
    """Number of 8 fps frames for `duration` seconds (MMAudio: int(duration * 8))."""
    return int(duration * fps)


def sync_frame_count(duration: float, fps: float = SYNC_FPS) -> int:
    return int(duration * fps)


def sync_segment_count(num_frames: int) -> int:
    """Segments of 16 frames with stride 8 that fit in `num_frames` (0 if fewer than 16)."""
    return max(0, (num_frames - SEGMENT_FRAMES) // SEGMENT_STRIDE + 1)


def require_segment_count(num_frames: int) -> int:
    """Like `sync_segment_count`, but a MediaError when not even one segment fits."""
    count = sync_segment_count(num_frames)
    if count == 0:
        raise MediaError(
            f"{num_frames} frames at {SYNC_FPS} fps is too short for sync features: "
            f"at least {SEGMENT_FRAMES} frames ({float(SEGMENT_FRAMES / SYNC_FPS):.2f} s) are needed"
        )
    return count


def split_segments(frames: torch.Tensor) -> torch.Tensor:
    """(B, T, ...) -> (B, S, 16, ...): overlapping windows of 16 frames, stride 8."""
    count = require_segment_count(frames.shape[1])
    windows = frames.unfold(1, SEGMENT_FRAMES, SEGMENT_STRIDE)  # (B, S, ..., 16)
    return windows.movedim(-1, 2)[:, :count]


@dataclass(frozen=True)
class FeatureShapes:
    """Per-item shapes of the three feature sequences for one duration."""

    clip: tuple[int, int]  # (T8, clip_dim)
    sync: tuple[int, int]  # (segments * 8, sync_dim)
    text: tuple[int, int]  # (77, text_dim)


def as_float_frames(frames: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) frames (numpy or torch) -> float32 (B, T, 3, H, W) in [0, 1].

    Float input is taken as already in [0, 1] (training pipelines that augment in float).
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if x.ndim != 5 or x.shape[-1] != 3:
        raise MediaError(f"expected frames shaped (B, T, H, W, 3), got {tuple(x.shape)}")
    x = x.to(device)
    # times 1/255, not / 255: bit-exact with torchvision's ToDtype(scale=True), which MMAudio uses
    x = x.float().mul_(1.0 / 255) if x.dtype == torch.uint8 else x.float()
    return x.permute(0, 1, 4, 2, 3)


class EncoderSet(nn.Module, ABC):
    """Video and text conditioning encoders behind one interface.

    Subclasses implement `_clip_features`, `_sync_features` and `_text_features` on float
    frames in [0, 1] laid out (B, T, 3, H, W) and on prompt lists.
    """

    name: str = "encoders"

    def __init__(self, text_cache_size: int = 64):
        super().__init__()
        self.text_cache_size = text_cache_size
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    @property
    @abstractmethod
    def clip_dim(self) -> int: ...

    @property
    @abstractmethod
    def sync_dim(self) -> int: ...

    @property
    @abstractmethod
    def text_dim(self) -> int: ...

    @abstractmethod
    def _clip_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) in [0, 1] -> (B, T, clip_dim)."""

    @abstractmethod
    def _sync_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) in [0, 1] -> (B, segments * 8, sync_dim)."""

    @abstractmethod
    def _text_features(self, prompts: Sequence[str]) -> torch.Tensor:
        """prompts -> (B, 77, text_dim)."""

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def feature_shapes(self, duration: float) -> FeatureShapes:
        """Shapes of the features for a clip of `duration` seconds (8 s -> 64, 192, 77)."""
        segments = sync_segment_count(sync_frame_count(duration))
        return FeatureShapes(
            clip=(clip_frame_count(duration), self.clip_dim),
            sync=(segments * TOKENS_PER_SEGMENT, self.sync_dim),
            text=(TEXT_LENGTH, self.text_dim),
        )

    def encode_clip(self, frames_8fps: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (B, T8, H, W, 3) -> (B, T8, clip_dim) float32."""
        return self._clip_features(as_float_frames(frames_8fps, self.device)).float()

    def encode_sync(self, frames_25fps: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (B, T25, H, W, 3) -> (B, segments * 8, sync_dim) float32."""
        return self._sync_features(as_float_frames(frames_25fps, self.device)).float()

    def encode_video(
        self, frames_8fps: np.ndarray | torch.Tensor, frames_25fps: np.ndarray | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both video feature sequences: (clip_f (B, T8, clip_dim), sync_f (B, N, sync_dim))."""
        return self.encode_clip(frames_8fps), self.encode_sync(frames_25fps)

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        """(B, 77, text_dim) float32 features; cached per prompt outside training."""
        prompts = list(prompts)
        if self.training or self.text_cache_size <= 0:
            return self._text_features(prompts).float()
        todo = list(dict.fromkeys(p for p in prompts if p not in self._text_cache))
        if todo:
            for p, f in zip(todo, self._text_features(todo).float().detach()):
                self._text_cache[p] = f
        for p in prompts:
            self._text_cache.move_to_end(p)
        out = torch.stack([self._text_cache[p] for p in prompts])
        while len(self._text_cache) > self.text_cache_size:
            self._text_cache.popitem(last=False)
        return out

    def clear_text_cache(self) -> None:
        self._text_cache.clear()

    # Cached features go stale when weights, device or dtype change.
    def train(self, mode: bool = True) -> EncoderSet:
        self.clear_text_cache()
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):
        self.clear_text_cache()
        return super()._apply(fn, recurse)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self.clear_text_cache()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
