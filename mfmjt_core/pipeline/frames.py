"""Decoding a range at the frame rates and sizes an encoder set expects."""

from __future__ import annotations

import logging
import os
from fractions import Fraction

import numpy as np

from mfmjt_core.encoders.encoder_set import CLIP_FPS, SYNC_FPS, EncoderSet

# Training makes the small encoders' frames with an area filter; swscale's AREA matches it to
# ~0.001 mean abs while BICUBIC is ~0.007 off, more than the frame-to-frame motion they read.
SMALL_ENCODER_INTERPOLATION = "AREA"
# A range may end a frame or so after the last picture (rounding, END_TOLERANCE_S); a longer
# stretch of held picture means the file ends before its stated duration (a cut download).
HELD_PICTURE_NOTICE_S = 0.25

_log = logging.getLogger(__name__)


def decode_for_encoders(
    encoders: EncoderSet, path: str | os.PathLike, start: float, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """(8 fps frames, 25 fps frames) as uint8 (T, H, W, 3), from one decoding pass."""
    from mfmjt_core.media.video import decode_frame_sets

    clip, sync = decode_frame_sets(path, start, end, frame_specs(encoders))
    held = float(sync.repeated / sync.fps)
    if held > HELD_PICTURE_NOTICE_S:  # a cut file that claims more than it holds: say so, the take goes on
        _log.warning("the picture of %s ends %.2f s before the range does (at %.2f s of %.2f-%.2f s): the "
                     "sound there follows its last frame, held", os.fspath(path), held, end - held, start, end)
    return clip.frames, sync.frames


def frame_specs(encoders: EncoderSet) -> list:
    """How generation and `mfmjt extract` both decode frames for `encoders` (8 fps, 25 fps).

    MMAudio's encoders take 384x384 (CLIP) and 224x224 centre crops (Synchformer), scaled by
    torchvision's antialiased bicubic exactly as MMAudio's own loader does; the small encoders
    take one small square size for both, area-scaled, black bars left out, so a source frame
    picked at both rates is converted once.
    """
    from mfmjt_core.media.video import FrameSpec, mmaudio_specs

    size = getattr(getattr(encoders, "cfg", None), "frame_size", None)
    if size is None:  # CLIP + Synchformer, at the sizes they were built for (384 and 224 published)
        # MMAudio's own transform (torchvision), as `mfmjt extract` decodes for training
        specs = mmaudio_specs(encoders.clip.image_size, encoders.sync.cfg.image_size)
    else:
        area = SMALL_ENCODER_INTERPOLATION
        # Black bars are left out: the small encoders squeeze the frame square, and a square
        # picture pillarboxed in a 16:9 render squeezed with its bars made the embedded model
        # hear three times as many onsets (tests/blender/test_blender_sync.py).
        specs = [FrameSpec(Fraction(fps), size=(size, size), interpolation=area, crop_bars=True)
                 for fps in (CLIP_FPS, SYNC_FPS)]
    return specs
