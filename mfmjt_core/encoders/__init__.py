"""Conditioning encoders: CLIP frame and text features, Synchformer sync features.

`EncoderSet` is the interface (`encode_video`, `encode_text`, `feature_shapes`);
`MMAudioEncoders` loads the published CLIP + Synchformer weights, `SmallEncoders` is the small
trainable set of the embedded default model. Submodules import torch; nothing downloads.
"""

from mfmjt_core.encoders.clip import ClipEncoder, build_clip, clip_config
from mfmjt_core.encoders.encoder_set import (
    CLIP_FPS,
    SEGMENT_FRAMES,
    SEGMENT_STRIDE,
    SYNC_FPS,
    TEXT_LENGTH,
    TOKENS_PER_SEGMENT,
    EncoderSet,
    FeatureShapes,
    clip_frame_count,
    split_segments,
    sync_frame_count,
    sync_segment_count,
)
from mfmjt_core.encoders.mmaudio import MMAudioEncoders
from mfmjt_core.encoders.small import SmallEncoderConfig, SmallEncoders
from mfmjt_core.encoders.synchformer import SYNCHFORMER, SynchformerConfig, SynchformerVisual

__all__ = [
    "CLIP_FPS",
    "SEGMENT_FRAMES",
    "SEGMENT_STRIDE",
    "SYNCHFORMER",
    "SYNC_FPS",
    "TEXT_LENGTH",
    "TOKENS_PER_SEGMENT",
    "ClipEncoder",
    "EncoderSet",
    "FeatureShapes",
    "MMAudioEncoders",
    "SmallEncoderConfig",
    "SmallEncoders",
    "SynchformerConfig",
    "SynchformerVisual",
    "build_clip",
    "clip_config",
    "clip_frame_count",
    "split_segments",
    "sync_frame_count",
    "sync_segment_count",
]
