"""Training the embedded default model on the procedural world (`mfmjt train tiny-synth`).

Every training row is a fresh clip of the world's train split (row index = seed), made on the
fly in ~20 ms, so there is no dataset to store and no clip is seen twice. Video is sampled by
timestamp at 8 and 25 fps exactly as the pipeline samples decoded files, resized to the small
encoders' frame size; audio becomes mel latents. Conditions are dropped per modality with the
network's learned empty features, so the same model does video-to-audio, text-to-audio, both,
and classifier-free guidance. With `objective.probe_weight > 0` the encoders also get the direct
audio-visual signal of the alignment probes (`probes.py`). With `prompts` (a `PromptMix`) some
rows are conditioned on the clip's sounds in a user's phrasing instead of the template caption.

Frames get a faint per-pixel noise (std `frame_noise`, seeded by the row): generation sees frames
decoded from H.264 files, whose compression noise (~0.006 mean absolute at 32 px) is as large as
the frame-to-frame motion the sync encoder reads; a motion encoder fitted to noiseless renders
would take that noise for movement. With `picture_augment` > 0 each row's clip also looks
different (maybe mirrored, another brightness and contrast: `picture_augment.py`). With
`neutral_looks` > 0 that share of rows shows its balls and cubes in one look that is no
material's (`synth.world.neutral_frames`): the caption is then the only thing that says what
they are made of, at impacts whose instants the picture still gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mfmjt_core.model import AudioModel
from mfmjt_core.network.adapter import AverageVelocity
from mfmjt_core.synth.prompts import TEMPLATES_ONLY, PromptMix, training_prompt
from mfmjt_core.synth.world import neutral_frames
from mfmjt_core.training.draws import Draws
from mfmjt_core.training.picture_augment import apply_jitter, draw_jitter
from mfmjt_core.training.probes import AlignmentProbes, ProbeConfig
from mfmjt_core.training.task_loss import drop_conditions, objective_loss
from mfmjt_core.training.train_config import ObjectiveConfig, check_strength

_PROMPT_STREAM = 0x7072  # keeps the rows' prompt draws apart from every other seeded stream
_PICTURE_STREAM = 0x706A  # the same for the rows' picture jitter
_NEUTRAL_STREAM = 0x6E6C  # the same for the rows drawn with neutral looks


def frames_at(frames, fps: Fraction, target_fps: int, duration: float):
    """The frame (of an array or tensor) shown at each instant k / target_fps in [0, duration): latest at or before."""
    count = int(duration * target_fps)
    index = np.floor(np.arange(count) * float(fps) / target_fps + 1e-9).astype(np.int64)
    return frames[np.minimum(index, len(frames) - 1)]


def _resize(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, size, size, 3) in [0, 1] (area filter)."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    height, width = x.shape[-2:]
    if height % size == 0 and width % size == 0:
        # the area filter at a whole factor, without adaptive pooling's per-cell bounds (1.7x faster)
        x = F.avg_pool2d(x, (height // size, width // size))
    else:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.div_(255.0).permute(0, 2, 3, 1)


class SynthTask:
    """`TrainTask` over the synthetic world for an `AudioModel` with small encoders."""

    def __init__(
        self, model: AudioModel, *, world_config=None, first_seed: int = 0, frame_noise: float = 0.003,
        prompts: PromptMix = TEMPLATES_ONLY, picture_augment: float = 0.0, neutral_looks: float = 0.0,
    ) -> None:
        from mfmjt_core.synth.world_config import DEFAULT, WorldConfig

        self.model = model
        self.codec = model.spec.codec.build()  # a CPU copy for data workers
        self.world = world_config or DEFAULT
        if not isinstance(self.world, WorldConfig):
            raise TypeError("world_config must be a WorldConfig")
        self.first_seed = first_seed
        self.frame_size = model.spec.encoders.config.frame_size
        self.duration = model.spec.window_s
        self.num_latents = self.codec.num_latents(self.duration)
        self.frame_noise = frame_noise
        self.prompts = prompts
        self.picture_augment = check_strength(picture_augment)
        self.neutral_looks = check_strength(neutral_looks, "neutral_looks", "a share of rows")
        enc = model.encoders
        self.auxiliary = AlignmentProbes(ProbeConfig(
            clip_dim=enc.clip_dim, sync_dim=enc.sync_dim, text_dim=enc.text_dim, latent_dim=self.codec.latent_dim,
        ))

    def latent_shape(self) -> Sequence[int]:
        return (self.num_latents, self.codec.latent_dim)

    def clip(self, index: int):
        from mfmjt_core.synth.world import make_clip, split_seeds

        (seed,) = split_seeds("train", 1, start=self.first_seed + index)
        return make_clip(seed, config=self.world)

    def batch(self, indices: Sequence[int]) -> dict:
        """CPU tensors of the given rows (runs in data-loader workers)."""
        clips = [self.clip(i) for i in indices]
        # once per clip, shared by both rates
        small = [self._look(_resize(self._picture(c, i), self.frame_size), i) for c, i in zip(clips, indices)]
        frames8 = torch.stack([self._frames(s, c, i, 8) for s, c, i in zip(small, clips, indices)])
        frames25 = torch.stack([self._frames(s, c, i, 25) for s, c, i in zip(small, clips, indices)])
        audio = torch.from_numpy(np.stack([c.audio for c in clips]))
        with torch.no_grad():
            latent = self.codec.encode(audio)[:, : self.num_latents]
        captions = [self._caption(c, i) for c, i in zip(clips, indices)]
        return {"frames8": frames8, "frames25": frames25, "captions": captions, "latent": latent}

    def _caption(self, clip, index: int) -> str:
        """The row's text: the clip's template caption or, by `self.prompts`, a user's phrasing."""
        rng = np.random.Generator(np.random.PCG64([self.first_seed, index, _PROMPT_STREAM]))
        return training_prompt(clip.caption, clip.scene, clip.events, self.prompts, rng)

    def _picture(self, clip, index: int) -> np.ndarray:
        """The row's frames: the clip's own, or with neutral looks for a `neutral_looks` share."""
        if self.neutral_looks == 0.0:
            return clip.frames
        rng = np.random.Generator(np.random.PCG64([self.first_seed, index, _NEUTRAL_STREAM]))
        return neutral_frames(clip) if rng.random() < self.neutral_looks else clip.frames

    def _look(self, small: torch.Tensor, index: int) -> torch.Tensor:
        """The row's clip as `picture_augment` shows it (unchanged at 0)."""
        if self.picture_augment == 0.0:
            return small
        seed = int(np.random.SeedSequence([self.first_seed, index, _PICTURE_STREAM]).generate_state(1)[0])
        return apply_jitter(small, draw_jitter(self.picture_augment, torch.Generator().manual_seed(seed)))

    def _frames(self, small: torch.Tensor, clip, index: int, fps: int) -> torch.Tensor:
        """The clip's resized frames (`small`) shown at `fps`, with the row's faint frame noise."""
        frames = frames_at(small, clip.fps, fps, self.duration)
        if self.frame_noise <= 0:
            return frames
        g = torch.Generator().manual_seed(self.first_seed * 1_000_003 + index * 31 + fps)
        return (frames + self.frame_noise * torch.randn(frames.shape, generator=g)).clamp_(0.0, 1.0)

    def features(self, batch: dict) -> dict[str, torch.Tensor]:
        """The encoders' features of every row (no condition dropped)."""
        clip_f, sync_f = self.model.encoders.encode_video(batch["frames8"], batch["frames25"])
        return {"clip_f": clip_f, "sync_f": sync_f, "text_f": self.model.encoders.encode_text(batch["captions"])}

    def conditions(self, batch: dict, draws: Draws, features: dict | None = None) -> dict[str, torch.Tensor]:
        return drop_conditions(self.model.net, features or self.features(batch), draws.drop_video, draws.drop_text)

    def loss(self, forward_model, jvp_model, batch, draws: Draws, objective: ObjectiveConfig):
        features = self.features(batch)
        cond = self.conditions(batch, draws, features)
        convention = self.model.spec.network.time_convention
        u = AverageVelocity(forward_model, convention)
        x = self.model.net.normalize(batch["latent"])
        loss, stats = objective_loss(objective, u, AverageVelocity(jvp_model, convention), self.model.net, x, cond,
                                     draws, ~(draws.drop_video & draws.drop_text))
        if objective.probe_weight > 0:
            probe_loss, probe_stats = self.auxiliary(x, **features)
            loss = loss + objective.probe_weight * probe_loss
            stats = {**stats, **probe_stats, "loss": loss.item()}
        return loss, stats

    def export(self, state_dict: dict[str, torch.Tensor], path: Path) -> None:
        model = AudioModel.create(self.model.spec)
        model.load_state_dict(state_dict)
        model.save(path)

    @torch.no_grad()
    def latent_statistics(self, n: int = 64, *, offset: int = 9_000_000) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std of the codec's latents over `n` clips (far from training rows)."""
        latents = torch.cat([
            self.codec.encode(torch.from_numpy(self.clip(offset + i).audio)[None]) for i in range(n)
        ])
        flat = latents.flatten(0, 1)
        return flat.mean(0), flat.std(0).clamp(min=1e-3)
