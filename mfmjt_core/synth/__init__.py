"""A seeded, deterministic audiovisual world of short clips for training and evaluation.

Balls and cubes of wood, metal, glass and rubber fall, bounce, collide, slide and pop into view
on a floor between two walls; machines hum while visible and lamps beep while lit; balloons and
background light changes move without a sound. Every sound starts at the frame of its visible
cause. See `make_clip`, `split_seeds`, `iter_clips` and `export.write_clip`.
"""

from mfmjt_core.synth.export import ClipFiles, clip_metadata, read_sidecar, write_clip
from mfmjt_core.synth.scene import ObjectInfo, SoundEvent
from mfmjt_core.synth.vocab import (
    CAPTION_WORDS,
    EVENT_KINDS,
    FLOOR_MATERIALS,
    MATERIALS,
    OBJECT_KINDS,
    SHAPES,
    SUSTAINED_KINDS,
    TRANSIENT_KINDS,
)
from mfmjt_core.synth.world import (
    DEFAULT_ONSET_KINDS,
    Clip,
    clip_fps,
    iter_clips,
    make_clip,
    make_clips,
    split_seeds,
)
from mfmjt_core.synth.world_config import DEFAULT, FPS_CHOICES, SynthError, WorldConfig

__all__ = [
    "CAPTION_WORDS", "DEFAULT", "DEFAULT_ONSET_KINDS", "EVENT_KINDS", "FLOOR_MATERIALS",
    "FPS_CHOICES", "MATERIALS", "OBJECT_KINDS", "SHAPES", "SUSTAINED_KINDS", "TRANSIENT_KINDS",
    "Clip", "ClipFiles", "ObjectInfo", "SoundEvent", "SynthError", "WorldConfig", "clip_fps",
    "clip_metadata", "iter_clips", "make_clip", "make_clips", "read_sidecar", "split_seeds",
    "write_clip",
]
