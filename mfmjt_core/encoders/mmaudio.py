"""MMAudio's conditioning encoders: CLIP (8 fps frames, prompts) and Synchformer (25 fps).

Outputs for 8 s: clip_f (B, 64, 1024), sync_f (B, 192, 768), text_f (B, 77, 1024). The encoders
are frozen: every call runs under `torch.inference_mode`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch

from mfmjt_core.encoders.clip import CLIP_IMAGE_SIZE, ClipEncoder
from mfmjt_core.encoders.encoder_set import EncoderSet
from mfmjt_core.encoders.synchformer import SYNCHFORMER, SynchformerConfig, SynchformerVisual
from mfmjt_core.weights.cache import resolve_bundle
from mfmjt_core.weights.registry import DEFAULT_REGISTRY, Registry


class MMAudioEncoders(EncoderSet):
    """CLIP + Synchformer visual branch behind the `EncoderSet` interface."""

    name = "mmaudio"

    def __init__(
        self,
        clip: ClipEncoder,
        sync: SynchformerVisual,
        *,
        clip_batch: int = 32,
        sync_segments_per_batch: int = 0,
        text_cache_size: int = 64,
    ):
        super().__init__(text_cache_size)
        self.clip = clip
        self.sync = sync
        self.clip_batch = clip_batch
        self.sync_segments_per_batch = sync_segments_per_batch
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_files(
        cls,
        clip_path: str | os.PathLike,
        synchformer_path: str | os.PathLike,
        *,
        device: torch.device | str | None = None,
        fetch_hint: str | None = None,
        clip_cfg: Mapping | None = None,
        clip_image_size: int = CLIP_IMAGE_SIZE,
        sync_cfg: SynchformerConfig = SYNCHFORMER,
        **kwargs,
    ) -> MMAudioEncoders:
        """Load the published CLIP and Synchformer files (other configs: tests, variants)."""
        clip = ClipEncoder.from_file(clip_path, clip_cfg, device=device,
                                     image_size=clip_image_size, fetch_hint=fetch_hint)
        sync = SynchformerVisual.from_file(synchformer_path, sync_cfg, device=device,
                                           fetch_hint=fetch_hint)
        return cls(clip, sync, **kwargs)

    @classmethod
    def from_bundle(
        cls,
        bundle: str = "mmaudio-small-16k",
        *,
        cache: str | os.PathLike | None = None,
        registry: Registry = DEFAULT_REGISTRY,
        device: torch.device | str | None = None,
        **kwargs,
    ) -> MMAudioEncoders:
        """Load from the weights cache (CLIP also from the hub cache), else MissingWeightsError."""
        paths = resolve_bundle(bundle, cache, registry=registry, roles=("clip", "synchformer"))
        return cls.from_files(paths["clip"], paths["synchformer"], device=device,
                              fetch_hint=bundle, **kwargs)

    @property
    def clip_dim(self) -> int:
        return self.clip.image_dim

    @property
    def sync_dim(self) -> int:
        return self.sync.cfg.dim

    @property
    def text_dim(self) -> int:
        return self.clip.text_dim

    def train(self, mode: bool = True) -> MMAudioEncoders:
        return super().train(False)  # frozen: dropout-free eval behaviour always

    @torch.inference_mode()
    def _clip_features(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        feats = self.clip.encode_images(frames.flatten(0, 1), batch_size=self.clip_batch)
        return feats.view(b, t, -1)

    @torch.inference_mode()
    def _sync_features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.sync.encode_frames(frames, self.sync_segments_per_batch)

    @torch.inference_mode()
    def _text_features(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.clip.encode_text(prompts)
