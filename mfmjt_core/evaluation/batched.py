"""Generation for the evaluation: many clips per network call, same results as `Generator`.

`Generator.generate` serves one request at a time; the evaluation runs hundreds of requests
(clips x configurations), where batching clips through the network and the codec is several
times cheaper. This module runs the generator's single-window path for a batch: the same
feature extraction (frames of the range [0, duration) decoded from the MP4, through the model's
encoders), the same per-seed noise, and the one sampling core (`pipeline.sampling`). A test checks it against
`Generator.generate` (bit-identical at batch size 1; larger batches differ by float rounding).
Clips longer than the model's window are not supported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mfmjt_core.errors import MfmjtError
from mfmjt_core.media.levels import within_full_scale
from mfmjt_core.model import SamplingSettings

MODALITIES = ("video", "text", "both")


@dataclass(frozen=True)
class Sampling:
    """How to sample: steps, guidance scale and rescale mode, which conditions to give, the
    scale of the starting noise, and the median window of the decoded spectrum."""

    steps: int
    guidance: float
    rescale: str  # none | plain | zero_star | std
    modality: str  # video (no prompt) | text (caption, no video) | both
    temperature: float = 1.0
    median_frames: int = 1

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.steps < 1:
            raise ValueError("steps must be >= 1")

    @property
    def settings(self) -> SamplingSettings:
        return SamplingSettings(steps=self.steps, guidance=self.guidance, rescale=self.rescale,
                                temperature=self.temperature, median_frames=self.median_frames)

    @property
    def guided(self) -> bool:
        """Whether guidance changes anything (the generator's own rule)."""
        return self.settings.guided

    @property
    def uses_video(self) -> bool:
        return self.modality in ("video", "both")

    @property
    def uses_text(self) -> bool:
        return self.modality in ("text", "both")


@dataclass(frozen=True)
class ClipInput:
    """One clip to generate for: its MP4, caption, length, and the generation seed."""

    seed: int
    video: Path
    caption: str
    duration: float  # seconds generated: the range [0, duration) of the video, or the text length


class BatchGenerator:
    """Batched generation with a loaded `Generator`'s model (never mutated)."""

    def __init__(self, generator, *, batch_size: int = 16) -> None:
        self.generator = generator
        self.model = generator.model
        self.batch_size = max(1, int(batch_size))
        self._features: dict[tuple[Path, int], tuple[torch.Tensor, torch.Tensor]] = {}

    # -- conditions ---------------------------------------------------------------------------

    def video_features(self, path: Path, duration: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(clip_f (T8, D), sync_f (N, D)) of the range [0, duration) of a video, computed once."""
        key = (path, round(duration * 1e6))
        if key not in self._features:
            from mfmjt_core.pipeline.frames import decode_for_encoders

            enc = self.model.encoders
            frames8, frames25 = decode_for_encoders(enc, path, 0.0, duration)
            with torch.no_grad():
                clip_f, sync_f = enc.encode_video(frames8[None], frames25[None])
            self._features[key] = (clip_f[0].cpu(), sync_f[0].cpu())
        return self._features[key]

    # -- generation ---------------------------------------------------------------------------

    def generate(self, items: list[ClipInput], sampling: Sampling) -> list[np.ndarray]:
        """Mono float32 audio at the model's native rate for each item, in order."""
        window = self.model.spec.window_s
        lengths = [float(item.duration) for item in items]
        if any(length > window + 1e-6 for length in lengths):
            raise MfmjtError(f"batched evaluation takes clips up to the model's window ({window} s)")
        out: list[np.ndarray | None] = [None] * len(items)
        groups: dict[float, list[int]] = {}
        for i, length in enumerate(lengths):  # equal lengths share latent and feature shapes
            groups.setdefault(length, []).append(i)
        for length, indices in groups.items():
            for k in range(0, len(indices), self.batch_size):
                chunk = indices[k:k + self.batch_size]
                waves = self._generate_batch([items[i] for i in chunk], length, sampling)
                for i, wave in zip(chunk, waves):
                    out[i] = wave
        return out  # type: ignore[return-value]

    def _generate_batch(self, items: list[ClipInput], length: float, sampling: Sampling) -> list[np.ndarray]:
        from mfmjt_core.media import fit_length
        from mfmjt_core.pipeline.sampling import sample_latents, starting_noise

        model, spec = self.model, self.model.spec
        net, enc, codec = model.net, model.encoders, model.codec
        device = self.generator.device
        b = len(items)
        shapes = enc.feature_shapes(length)
        with torch.no_grad():
            empty_text = net.empty_string_feat.unsqueeze(0)
            if sampling.uses_text:
                text_f = torch.cat([enc.encode_text([it.caption]) if it.caption.strip() else empty_text
                                    for it in items])
            else:
                text_f = empty_text.expand(b, -1, -1)
            if sampling.uses_video:
                feats = [self.video_features(it.video, length) for it in items]
                clip_f = torch.stack([f[0] for f in feats])
                sync_f = torch.stack([f[1] for f in feats])
            else:
                clip_f = net.empty_clip_feat.unsqueeze(0).expand(b, shapes.clip[0], -1)
                sync_f = net.empty_sync_feat.unsqueeze(0).expand(b, shapes.sync[0], -1)
            n = codec.num_latents(length)
            # The generator's noise for variation 0 of window 0 of a request with this seed.
            noise = starting_noise([it.seed for it in items], n, codec.latent_dim, temperature=sampling.temperature)
            cond = {"clip_f": clip_f.to(device), "sync_f": sync_f.to(device), "text_f": text_f.to(device)}
            x = sample_latents(net, spec.objective, cond, noise.to(device), sampling.settings,
                               negative_text_f=empty_text.to(device))
            latent = codec.median_over_time(net.unnormalize(x), sampling.median_frames)
            waves = codec.decode(latent).float().cpu().numpy()
        total = round(length * codec.sample_rate)
        # as the generator's raw output (no ceiling): each take within full scale
        return [np.ascontiguousarray(within_full_scale(fit_length(w, total)), dtype=np.float32) for w in waves]
