"""Typed specs of a model's encoders and codec, as stored in a model file, and their builders.

A model file's JSON keeps the shape it always had (`{"kind": "small", "config": {...}}`,
`{"kind": "mmaudio", "bundle": "mmaudio-small-16k"}`); these classes are its typed reading.
Our own encoders and codec are built from their config (their weights are in the model file);
MMAudio's come from a published bundle in the weights cache, with architecture overrides only
for bundles in the published layout at other sizes (tests, research forks).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from mfmjt_core.codec.audio_codec import AudioCodec
from mfmjt_core.codec.bigvgan import BigVGANConfig
from mfmjt_core.codec.mel_codec import MelCodecConfig
from mfmjt_core.codec.vae import VAEConfig
from mfmjt_core.encoders.encoder_set import EncoderSet
from mfmjt_core.encoders.small import SmallEncoderConfig
from mfmjt_core.encoders.synchformer import SynchformerConfig


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples our frozen configs hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def config_from_dict(cls: type, data: dict) -> Any:
    """A frozen config dataclass from its JSON form (unknown keys are an error)."""
    return cls(**{k: _tuples(v) for k, v in data.items()})


def config_to_dict(config: Any) -> dict:
    return json_ready(dataclasses.asdict(config))


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [json_ready(v) for v in value]
    return value


@dataclass(frozen=True)
class SmallEncodersSpec:
    """The embedded model's trainable encoders; their weights are stored in the model file."""

    config: SmallEncoderConfig = field(default_factory=SmallEncoderConfig)
    kind: ClassVar[str] = "small"
    stores_weights: ClassVar[bool] = True

    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": config_to_dict(self.config)}

    def build(self, generator: torch.Generator | None = None) -> EncoderSet:
        from mfmjt_core.encoders.small import SmallEncoders

        return SmallEncoders.create(self.config, generator=generator)


@dataclass(frozen=True)
class BundleEncodersSpec:
    """CLIP and Synchformer of a published bundle, read from the weights cache."""

    bundle: str
    clip: dict | None = None  # open_clip model config override
    clip_image_size: int | None = None
    sync: SynchformerConfig | None = None
    kind: ClassVar[str] = "mmaudio"
    stores_weights: ClassVar[bool] = False

    def to_dict(self) -> dict:
        data: dict = {"kind": self.kind, "bundle": self.bundle}
        for name, value in (("clip", self.clip), ("clip_image_size", self.clip_image_size)):
            if value is not None:
                data[name] = json_ready(value)
        if self.sync is not None:
            data["sync"] = config_to_dict(self.sync)
        return data

    def build(self, generator: torch.Generator | None = None) -> EncoderSet:
        """MissingWeightsError naming `mfmjt fetch BUNDLE` when the files are not in the cache."""
        from mfmjt_core.encoders.mmaudio import MMAudioEncoders

        extra: dict = {}
        if self.clip is not None:
            extra["clip_cfg"] = self.clip
        if self.clip_image_size is not None:
            extra["clip_image_size"] = self.clip_image_size
        if self.sync is not None:
            extra["sync_cfg"] = self.sync
        return MMAudioEncoders.from_bundle(self.bundle, **extra)


@dataclass(frozen=True)
class MelCodecSpec:
    """The small mel codec (no weights: analysis plus Griffin-Lim)."""

    config: MelCodecConfig = field(default_factory=MelCodecConfig)
    kind: ClassVar[str] = "mel"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": config_to_dict(self.config)}

    def build(self) -> AudioCodec:
        from mfmjt_core.codec.mel_codec import MelCodec

        return MelCodec(self.config)


@dataclass(frozen=True)
class BundleCodecSpec:
    """MMAudio's VAE and vocoder of a published bundle, read from the weights cache."""

    bundle: str
    vae: VAEConfig | None = None
    vocoder: BigVGANConfig | None = None
    kind: ClassVar[str] = "mmaudio"

    def to_dict(self) -> dict:
        data: dict = {"kind": self.kind, "bundle": self.bundle}
        if self.vae is not None:
            data["vae"] = config_to_dict(self.vae)
        if self.vocoder is not None:
            data["vocoder"] = config_to_dict(self.vocoder)
        return data

    def build(self) -> AudioCodec:
        from mfmjt_core.codec.mmaudio_codec import MMAudioCodec

        return MMAudioCodec.from_bundle(self.bundle, vae_config=self.vae, vocoder_config=self.vocoder)


EncodersSpec = SmallEncodersSpec | BundleEncodersSpec
CodecSpec = MelCodecSpec | BundleCodecSpec


def encoders_from_dict(data: dict | EncodersSpec) -> EncodersSpec:
    if isinstance(data, (SmallEncodersSpec, BundleEncodersSpec)):
        return data
    kind = data.get("kind")
    if kind == "small":
        return SmallEncodersSpec(SmallEncoderConfig.from_dict(data.get("config", {})))
    if kind == "mmaudio" and data.get("bundle"):
        sync = data.get("sync")
        return BundleEncodersSpec(data["bundle"], clip=data.get("clip"), clip_image_size=data.get("clip_image_size"),
                                  sync=config_from_dict(SynchformerConfig, sync) if sync else None)
    raise ValueError(f"unknown encoders {data!r}: small, or mmaudio with a bundle name")


def codec_from_dict(data: dict | CodecSpec) -> CodecSpec:
    if isinstance(data, (MelCodecSpec, BundleCodecSpec)):
        return data
    kind = data.get("kind")
    if kind == "mel":
        return MelCodecSpec(config_from_dict(MelCodecConfig, data.get("config", {})))
    if kind == "mmaudio" and data.get("bundle"):
        vae, vocoder = data.get("vae"), data.get("vocoder")
        return BundleCodecSpec(data["bundle"], vae=config_from_dict(VAEConfig, vae) if vae else None,
                               vocoder=BigVGANConfig.from_dict(vocoder) if vocoder else None)
    raise ValueError(f"unknown codec {data!r}: mel, or mmaudio with a bundle name")
