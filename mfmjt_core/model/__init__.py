"""A model: its typed spec (what a model file's JSON says), the parts it is built from, the
model file format, and MMAudio's published bundles as models."""

from mfmjt_core.model.audio_model import AudioModel
from mfmjt_core.model.file import FORMAT, read_model, save_model
from mfmjt_core.model.parts import (
    BundleCodecSpec,
    BundleEncodersSpec,
    CodecSpec,
    EncodersSpec,
    MelCodecSpec,
    SmallEncodersSpec,
)
from mfmjt_core.model.sampling_defaults import SamplingDefaults, SamplingSettings
from mfmjt_core.model.spec import ModelSpec, tiny_random_spec

__all__ = [
    "FORMAT", "AudioModel", "BundleCodecSpec", "BundleEncodersSpec", "CodecSpec", "EncodersSpec",
    "MelCodecSpec", "ModelSpec", "SamplingDefaults", "SamplingSettings", "SmallEncodersSpec",
    "read_model", "save_model", "tiny_random_spec",
]
