"""A complete generative model: conditioning encoders + MM-DiT + audio codec, with its spec.

`ModelSpec` is the JSON-able description stored in our model files; `AudioModel` holds the
three parts. Only the encoders and the network are `nn.Module` children (they are what a model
file stores); the codec is kept beside them because its weights, if any, are published files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mfmjt_core.codec.audio_codec import AudioCodec
from mfmjt_core.encoders.encoder_set import EncoderSet
from mfmjt_core.modelfile import read_model, save_model
from mfmjt_core.network import NetworkConfig
from mfmjt_core.network.mmdit import MMDiT


@dataclass(frozen=True)
class SamplingDefaults:
    steps: int = 1
    guidance: float = 2.0
    rescale: str = "zero_star"
    # Scale of the starting noise: 1 samples the trained distribution; lower values keep samples
    # nearer its likeliest sound (less variety, fewer artefacts from an imperfect network).
    temperature: float = 1.0

    def resolve(self, request=None) -> SamplingSettings:
        """The settings one generation samples with: the request's own values where it sets
        them (not None), these defaults elsewhere. Filled once per request, here only."""
        def pick(name: str):
            value = getattr(request, name, None)
            return getattr(self, name) if value is None else value

        return SamplingSettings(steps=pick("steps"), guidance=pick("guidance"), rescale=pick("rescale"),
                                temperature=pick("temperature"))


@dataclass(frozen=True)
class SamplingSettings:
    """How one generation samples, every value decided (see `SamplingDefaults.resolve`)."""

    steps: int
    guidance: float
    rescale: str  # none | plain | zero_star | std
    temperature: float = 1.0
    sampler: str = "auto"  # auto: the model's objective decides; or meanflow | euler

    @property
    def guided(self) -> bool:
        """Whether guidance changes anything: a mode other than none and a scale other than 1."""
        return self.rescale != "none" and self.guidance != 1.0


@dataclass(frozen=True)
class ModelSpec:
    name: str
    network: NetworkConfig
    encoders: dict  # {"kind": "small", "config": {...}}
    codec: dict  # {"kind": "mel", "config": {...}}
    window_s: float = 8.0  # the duration the model was trained on; longer ranges are windowed
    objective: str = "meanflow"
    defaults: SamplingDefaults = field(default_factory=SamplingDefaults)
    training: dict = field(default_factory=dict)  # free-form record: recipe, command, seed

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["network"] = self.network.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        data = dict(data)
        data["network"] = NetworkConfig.from_dict(data["network"])
        data["defaults"] = SamplingDefaults(**data.get("defaults", {}))
        return cls(**data)


def tiny_random_spec() -> ModelSpec:
    """A very small untrained model of the embedded architecture, for tests and benchmarks."""
    return ModelSpec(
        name="tiny-random",
        network=NetworkConfig(
            name="tiny_random", latent_dim=160, hidden_dim=64, depth=2, fused_depth=1, num_heads=2,
            clip_dim=32, sync_dim=32, text_dim=32, time_convention="meanflow",
        ),
        encoders={"kind": "small", "config": {
            "frame_size": 32, "clip_dim": 32, "sync_dim": 32, "text_dim": 32, "clip_channels": [8, 16, 32],
            "sync_channels": [8, 16, 32], "text_layers": 1, "text_heads": 2, "vocab_size": 1024,
        }},
        codec={"kind": "mel", "config": {"n_mels": 80, "stack": 2, "griffin_lim_iters": 8}},
        window_s=8.0,
        defaults=SamplingDefaults(steps=1, guidance=2.0, rescale="zero_star"),
    )


def build_encoders(spec: dict, generator: torch.Generator | None = None) -> EncoderSet:
    kind = spec.get("kind")
    if kind == "mmaudio":  # published weights from the cache (`mfmjt fetch BUNDLE`)
        from mfmjt_core.encoders.mmaudio import MMAudioEncoders

        return MMAudioEncoders.from_bundle(spec["bundle"])
    if kind == "small":
        from mfmjt_core.encoders.small import SmallEncoderConfig, SmallEncoders

        return SmallEncoders.create(SmallEncoderConfig.from_dict(spec.get("config", {})), generator=generator)
    raise ValueError(f"unknown encoder kind {kind!r}")


def build_codec(spec: dict) -> AudioCodec:
    kind = spec.get("kind")
    if kind == "mmaudio":
        from mfmjt_core.codec.mmaudio_codec import MMAudioCodec

        return MMAudioCodec.from_bundle(spec["bundle"])
    if kind == "mel":
        from mfmjt_core.codec.mel_codec import MelCodec, MelCodecConfig

        return MelCodec(MelCodecConfig(**spec.get("config", {})))
    raise ValueError(f"unknown codec kind {kind!r}")


class AudioModel(nn.Module):
    def __init__(self, spec: ModelSpec, encoders: EncoderSet, net: MMDiT, codec: AudioCodec) -> None:
        super().__init__()
        self.spec = spec
        self.encoders = encoders
        self.net = net
        self._codec = (codec,)  # a tuple keeps it out of the module tree and the state dict

    @property
    def codec(self) -> AudioCodec:
        return self._codec[0]

    @classmethod
    def create(cls, spec: ModelSpec, *, generator: torch.Generator | None = None) -> AudioModel:
        """Freshly initialised (from `generator` when given, for reproducible models)."""
        return cls(spec, build_encoders(spec.encoders, generator), MMDiT(spec.network, generator=generator),
                   build_codec(spec.codec))

    def forward(self, latent, t, clip_f, sync_f, text_f, h=None) -> torch.Tensor:
        """The network's velocity; lets training wrap the whole model (encoders included) in DDP."""
        return self.net(latent, t, clip_f, sync_f, text_f, h=h)

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        if isinstance(self.codec, nn.Module):
            self.codec._apply(fn)
        return self

    # -- files --------------------------------------------------------------------------------

    @property
    def stored_prefixes(self) -> tuple[str, ...]:
        """What a model file holds: published encoders stay in the cache, only ours are stored."""
        return ("net.", "encoders.") if self.spec.encoders.get("kind") == "small" else ("net.",)

    def save(self, path: str | Path, *, dtype: torch.dtype | None = None) -> Path:
        tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
                   for k, v in self.state_dict().items() if k.startswith(self.stored_prefixes)}
        return save_model(path, tensors, self.spec.to_dict())

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> AudioModel:
        from mfmjt_core.weights.loading import load_strict

        tensors, config = read_model(path)
        model = cls.create(ModelSpec.from_dict(config))
        state = model.state_dict()
        tensors = {k: v.to(state[k].dtype) if k in state else v for k, v in tensors.items()}
        ignored = tuple(p for p in ("net.", "encoders.") if p not in model.stored_prefixes)
        load_strict(model, tensors, ignore_prefixes=ignored, what=f"model file {path}")
        return model.to(device).eval()
