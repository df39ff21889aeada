"""`ModelSpec`: the JSON-able description stored in every model file, typed."""

from __future__ import annotations

from dataclasses import dataclass, field

from mfmjt_core.codec.mel_codec import MelCodecConfig
from mfmjt_core.encoders.small import SmallEncoderConfig
from mfmjt_core.model.parts import (
    CodecSpec,
    EncodersSpec,
    MelCodecSpec,
    SmallEncodersSpec,
    codec_from_dict,
    encoders_from_dict,
)
from mfmjt_core.model.sampling_defaults import SamplingDefaults
from mfmjt_core.network import NetworkConfig


@dataclass(frozen=True)
class ModelSpec:
    name: str
    network: NetworkConfig
    encoders: EncodersSpec
    codec: CodecSpec
    window_s: float = 8.0  # the duration the model was trained on; longer ranges are windowed
    objective: str = "meanflow"
    defaults: SamplingDefaults = field(default_factory=SamplingDefaults)
    training: dict = field(default_factory=dict)  # free-form record: recipe, command, seed, guidance

    def __post_init__(self) -> None:  # accept the stored dict forms too
        object.__setattr__(self, "encoders", encoders_from_dict(self.encoders))
        object.__setattr__(self, "codec", codec_from_dict(self.codec))

    def to_dict(self) -> dict:
        return {"name": self.name, "network": self.network.to_dict(), "encoders": self.encoders.to_dict(),
                "codec": self.codec.to_dict(), "window_s": self.window_s, "objective": self.objective,
                "defaults": self.defaults.to_dict(), "training": dict(self.training)}

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
        encoders=SmallEncodersSpec(SmallEncoderConfig(
            frame_size=32, clip_dim=32, sync_dim=32, text_dim=32, clip_channels=(8, 16, 32),
            sync_channels=(8, 16, 32), text_layers=1, text_heads=2, vocab_size=1024)),
        codec=MelCodecSpec(MelCodecConfig(n_mels=80, stack=2, griffin_lim_iters=8)),
        window_s=8.0,
        defaults=SamplingDefaults(steps=1, guidance=2.0, rescale="zero_star"),
    )
