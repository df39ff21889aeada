"""A small trainable encoder set for the embedded default model (the procedural shapes world).

Same interface and token layout as MMAudio's encoders, with small widths so it trains jointly
with the network and runs fast on a CPU:
- clip-like features: a strided conv net per 8 fps frame, pooled, projected, unit length;
- sync features: a conv net per 25 fps frame fed with the frame and its difference to the
  previous frame (motion is what sync is about), pooled per frame, frames paired like
  Synchformer's 2-frame tubelets, a temporal conv over the pairs, then cut into MMAudio's
  16-frame / stride-8 segments of 8 tokens (so 8 s gives 192 tokens, as the network expects);
- text: open_clip's tokenizer -> token + position embeddings -> small causal transformer ->
  LayerNorm -> unit length per token, (B, 77, text_dim).
Frames of any size are resized to `frame_size` first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mfmjt_core.encoders.clip import CLIP_MODEL_NAME
from mfmjt_core.encoders.encoder_set import (
    SEGMENT_FRAMES,
    SEGMENT_STRIDE,
    TEXT_LENGTH,
    EncoderSet,
    require_segment_count,
    sync_frame_count,
)
from mfmjt_core.encoders.params import build_on_meta, materialize
from mfmjt_core.weights.loading import load_strict


@dataclass(frozen=True)
class SmallEncoderConfig:
    frame_size: int = 64
    clip_dim: int = 128
    sync_dim: int = 128
    text_dim: int = 128
    clip_channels: tuple[int, ...] = (16, 32, 64, 128)
    sync_channels: tuple[int, ...] = (16, 32, 64)
    text_layers: int = 2
    text_heads: int = 4
    # "segments": MMAudio's layout (16-frame segments, stride 8, 8 tokens each; 8 s -> 192).
    # "frames": one token per 25 fps frame, resampled to a multiple of 8 tokens spread evenly
    # over the range, so the network's linear sync-to-latent resampling puts every token at
    # its own instant (MMAudio's overlapping segments are not evenly spaced in time).
    sync_layout: str = "segments"
    vocab_size: int = 49408  # open_clip's BPE vocabulary; smaller values fold ids modulo it
    tokenizer: str = CLIP_MODEL_NAME

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SmallEncoderConfig:
        d = dict(d)
        for k in ("clip_channels", "sync_channels"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _conv_stack(c_in: int, channels: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GELU()]
        c_in = c
    return nn.Sequential(*layers)


class FrameEncoder(nn.Module):
    """(N, 3, S, S) -> (N, dim), unit length: a stand-in for CLIP image features."""

    def __init__(self, cfg: SmallEncoderConfig):
        super().__init__()
        self.convs = _conv_stack(3, cfg.clip_channels)
        # Normalising the pooled features first keeps frames apart from the start: at random
        # init the pooled vector is mostly a shared offset, and unit length alone keeps it.
        self.norm = nn.LayerNorm(2 * cfg.clip_channels[-1])
        self.proj = nn.Linear(2 * cfg.clip_channels[-1], cfg.clip_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x * 2 - 1)
        pooled = torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)
        return F.normalize(self.proj(self.norm(pooled)), dim=-1)


class MotionEncoder(nn.Module):
    """(B, T, 3, S, S) -> (B, T // 2, dim) features per frame pair (or (B, T, dim) per frame
    with `per_frame`), from frames and motion."""

    def __init__(self, cfg: SmallEncoderConfig):
        super().__init__()
        self.convs = _conv_stack(6, cfg.sync_channels)
        self.per_frame = cfg.sync_layout == "frames"
        if self.per_frame:
            # Keep the coarse layout (where things move matters for contact), not just pooled
            # statistics: the last feature map is flattened and projected.
            grid = cfg.frame_size // 2 ** len(cfg.sync_channels)
            self.spatial = nn.Linear(cfg.sync_channels[-1] * grid * grid, cfg.sync_dim)
            pair = cfg.sync_dim
        else:
            pair = 2 * 2 * cfg.sync_channels[-1]  # two frames x (mean, max) pooling
        self.temporal = nn.Sequential(
            nn.Conv1d(pair, cfg.sync_dim, 3, padding=1), nn.GELU(),
            nn.Conv1d(cfg.sync_dim, cfg.sync_dim, 3, padding=1),
        )
        self.norm = nn.LayerNorm(cfg.sync_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        x = frames * 2 - 1
        motion = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        h = self.convs(torch.cat([x, motion], dim=2).flatten(0, 1))
        if self.per_frame:
            per_frame = self.spatial(h.flatten(1)).view(b, t, -1)
            # What changes over time carries sync; the static scene would otherwise dominate.
            pairs = per_frame - per_frame.mean(dim=1, keepdim=True)
        else:
            per_frame = torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1).view(b, t, -1)
            pairs = per_frame[:, : t // 2 * 2].reshape(b, t // 2, -1)
        return self.norm(self.temporal(pairs.transpose(1, 2)).transpose(1, 2))


class TextEncoder(nn.Module):
    """(B, 77) token ids -> (B, 77, dim) unit-length token states (causal, like CLIP)."""

    def __init__(self, cfg: SmallEncoderConfig):
        super().__init__()
        self.vocab_size = cfg.vocab_size
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_dim)
        self.positional_embedding = nn.Parameter(torch.zeros(TEXT_LENGTH, cfg.text_dim))
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                cfg.text_dim, cfg.text_heads, 4 * cfg.text_dim, dropout=0.0,
                activation="gelu", batch_first=True, norm_first=True,
            )
            for _ in range(cfg.text_layers)
        )
        self.ln_final = nn.LayerNorm(cfg.text_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens % self.vocab_size) + self.positional_embedding
        mask = nn.Transformer.generate_square_subsequent_mask(
            tokens.shape[1], device=x.device, dtype=x.dtype
        )
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=True)
        return F.normalize(self.ln_final(x), dim=-1)


def _frame_tokens(frames: int) -> int:
    """Sync tokens for `frames` 25 fps frames in the "frames" layout: a multiple of 8 (>= 8)."""
    return max(8, 8 * -(-frames // 8))


class SmallEncoders(EncoderSet):
    """The trainable encoder set of the embedded default model."""

    name = "small"

    def __init__(self, cfg: SmallEncoderConfig = SmallEncoderConfig(), text_cache_size: int = 64):
        super().__init__(text_cache_size)
        self.cfg = cfg
        self.frames = FrameEncoder(cfg)
        self.motion = MotionEncoder(cfg)
        self.text = TextEncoder(cfg)
        self._tokenizer = None

    @classmethod
    def create(
        cls,
        cfg: SmallEncoderConfig = SmallEncoderConfig(),
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> SmallEncoders:
        """Randomly initialised from `generator` (seed 0 if None), on `device`."""
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        return materialize(build_on_meta(lambda: cls(cfg)), device, generator, std=None)

    @classmethod
    def from_state_dict(
        cls,
        state_dict: dict[str, torch.Tensor],
        cfg: SmallEncoderConfig = SmallEncoderConfig(),
        *,
        device: torch.device | str | None = None,
    ) -> SmallEncoders:
        """Strictly load weights saved from `state_dict()` of a model with config `cfg`."""
        model = materialize(build_on_meta(lambda: cls(cfg)), device)
        load_strict(model, state_dict, what="small encoder weights")
        return model.eval()

    @property
    def clip_dim(self) -> int:
        return self.cfg.clip_dim

    @property
    def sync_dim(self) -> int:
        return self.cfg.sync_dim

    @property
    def text_dim(self) -> int:
        return self.cfg.text_dim

    def _resize(self, frames: torch.Tensor) -> torch.Tensor:
        size = self.cfg.frame_size
        if frames.shape[-2:] == (size, size):
            return frames
        b, t = frames.shape[:2]
        x = F.interpolate(frames.flatten(0, 1), size=(size, size), mode="bilinear",
                          align_corners=False, antialias=True)
        return x.view(b, t, *x.shape[1:])

    def _clip_features(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        return self.frames(self._resize(frames).flatten(0, 1)).view(b, t, -1)

    def feature_shapes(self, duration: float):
        shapes = super().feature_shapes(duration)
        if self.cfg.sync_layout != "frames":
            return shapes
        return dataclasses.replace(shapes, sync=(_frame_tokens(sync_frame_count(duration)), self.sync_dim))

    def _sync_features(self, frames: torch.Tensor) -> torch.Tensor:
        if self.cfg.sync_layout == "frames":
            per_frame = self.motion(self._resize(frames))  # (B, T, D): token k at k / 25 s
            count = _frame_tokens(per_frame.shape[1])
            if count == per_frame.shape[1]:
                return per_frame
            # linear resampling onto `count` evenly spaced instants over the same span
            return F.interpolate(per_frame.transpose(1, 2), size=count, mode="linear",
                                 align_corners=False).transpose(1, 2)
        segments = require_segment_count(frames.shape[1])
        used = (segments - 1) * SEGMENT_STRIDE + SEGMENT_FRAMES
        pairs = self.motion(self._resize(frames[:, :used]))  # (B, used // 2, D)
        # segment s covers pairs [4s, 4s + 8): MMAudio's layout of 8 tokens per segment
        per_seg, step = SEGMENT_FRAMES // 2, SEGMENT_STRIDE // 2
        index = (torch.arange(segments)[:, None] * step + torch.arange(per_seg)).flatten()
        return pairs[:, index.to(pairs.device)]

    def tokenize(self, prompts: Sequence[str]) -> torch.Tensor:
        if self._tokenizer is None:
            import open_clip

            self._tokenizer = open_clip.get_tokenizer(self.cfg.tokenizer)
        return self._tokenizer(list(prompts))

    def _text_features(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.text(self.tokenize(prompts).to(self.device))
