"""Frozen configurations of the MM-DiT network and its sequence lengths.

A variant is a named `NetworkConfig`; a change is `dataclasses.replace`. Sequence lengths are
derived from a duration (MMAudio's `sequence_config.py` arithmetic) and never stored on a module,
so one network serves any duration without mutation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

TimeConvention = Literal["meanflow", "mmaudio"]


@dataclass(frozen=True)
class SequenceConfig:
    """Token counts for a clip of `duration` seconds (MMAudio's conventions)."""

    duration: float = 8.0
    sample_rate: int = 16_000
    hop_length: int = 256  # mel hop in samples
    latent_downsample: int = 2  # the VAE halves the mel frame rate
    clip_fps: int = 8
    sync_fps: int = 25
    sync_segment_frames: int = 16
    sync_segment_stride: int = 8
    sync_tokens_per_segment: int = 8

    @property
    def latent_seq_len(self) -> int:
        return math.ceil(self.duration * self.sample_rate / self.hop_length / self.latent_downsample)

    @property
    def num_audio_samples(self) -> int:
        # a whole number of latents, so decode gives a fixed length
        return self.latent_seq_len * self.hop_length * self.latent_downsample

    @property
    def clip_seq_len(self) -> int:
        return int(self.duration * self.clip_fps)

    @property
    def sync_seq_len(self) -> int:
        frames = self.duration * self.sync_fps
        segments = int((frames - self.sync_segment_frames) // self.sync_segment_stride + 1)
        return segments * self.sync_tokens_per_segment

    def with_duration(self, duration: float) -> SequenceConfig:
        return dataclasses.replace(self, duration=duration)


SEQ_16K = SequenceConfig(sample_rate=16_000, hop_length=256)
SEQ_44K = SequenceConfig(sample_rate=44_100, hop_length=512)


@dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters of one MM-DiT variant.

    `interval_embedding` adds the MeanFlow embedding of h = t - r (prefix `h_embed.`), whose last
    layer starts at zero so a flow-matching checkpoint loaded into it is unchanged at r = t.
    `guidance_input` adds the embedding of the guidance scale w (prefix `w_embed.`, also zero at
    the start), so one network learns every scale and samples guided in one evaluation.
    `time_convention` says how the network reads t: "meanflow" (t = 1 noise, as trained here) or
    "mmaudio" (t = 0 noise, velocity data - noise, as published); `adapter.py` converts.
    """

    name: str
    latent_dim: int
    hidden_dim: int
    depth: int  # joint blocks + fused blocks
    fused_depth: int
    num_heads: int
    clip_dim: int = 1024
    sync_dim: int = 768
    text_dim: int = 1024
    text_seq_len: int = 77
    mlp_ratio: float = 4.0
    v2: bool = False  # large_44k_v2: SiLU projections and a wider, faster time embedding
    interval_embedding: bool = True
    guidance_input: bool = False  # default False: older files (without the key) load as before
    time_convention: TimeConvention = "mmaudio"
    sequence: SequenceConfig = SEQ_16K

    def __post_init__(self) -> None:
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} is not divisible by {self.num_heads} heads")
        if not 0 <= self.fused_depth < self.depth:
            raise ValueError("need 0 <= fused_depth < depth (at least one joint block)")
        if self.time_convention not in ("meanflow", "mmaudio"):
            raise ValueError(f"unknown time convention {self.time_convention!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads

    @property
    def joint_depth(self) -> int:
        return self.depth - self.fused_depth

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkConfig:
        data = dict(data)
        data["sequence"] = SequenceConfig(**data.get("sequence", {}))
        return cls(**data)


def _mmaudio(name: str, latent_dim: int, heads: int, depth: int, fused: int, seq, **kw) -> NetworkConfig:
    return NetworkConfig(
        name=name, latent_dim=latent_dim, hidden_dim=64 * heads, depth=depth, fused_depth=fused,
        num_heads=heads, sequence=seq, **kw,
    )


VARIANTS: dict[str, NetworkConfig] = {
    c.name: c
    for c in (
        _mmaudio("small_16k", 20, 7, 12, 8, SEQ_16K),
        _mmaudio("small_44k", 40, 7, 12, 8, SEQ_44K),
        _mmaudio("medium_44k", 40, 14, 12, 8, SEQ_44K),
        _mmaudio("large_44k", 40, 14, 21, 14, SEQ_44K),
        _mmaudio("large_44k_v2", 40, 14, 21, 14, SEQ_44K, v2=True),
        # Test-sized network with the golden files' dimensions.
        NetworkConfig(
            name="tiny_test", latent_dim=20, hidden_dim=64, depth=3, fused_depth=1, num_heads=1,
            clip_dim=32, sync_dim=24, text_dim=32, sequence=SEQ_16K.with_duration(1.6),
        ),
    )
}


def get_config(name_or_config: str | NetworkConfig) -> NetworkConfig:
    """Look a variant up by name (a config passes through)."""
    if isinstance(name_or_config, NetworkConfig):
        return name_or_config
    try:
        return VARIANTS[name_or_config]
    except KeyError:
        from mfmjt_core.errors import UnknownModelError

        known = ", ".join(sorted(VARIANTS))
        raise UnknownModelError(f"unknown network variant {name_or_config!r}; known: {known}") from None
