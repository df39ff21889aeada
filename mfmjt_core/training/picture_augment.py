"""Per-clip picture jitter for training on the procedural world (`TrainConfig.picture_augment`).

The world draws every clip in its own house style, and a picture encoder fitted to one style
reads its quirks as sound: the flow-matching line sounded onsets and spectra that were not there
on clips rendered in Blender (docs/evaluation.md, "Clips made outside the project"). Jittering
how a clip looks asks the encoders to read sound from what the jitter leaves alone.

Only changes that keep what the world's sounds depend on are drawn: a mirror image (the audio is
mono), brightness, and contrast around the clip's mean grey (which scale the differences between
colour channels alike, so no hue changes order). One draw per clip, applied to every frame
alike, so motion and timing are untouched. Zoom and desaturation were tried and dropped: in the
world a machine's size sets its hum's pitch, a lamp's colour its beep's, and an object's colour
its material, so changing them taught the model wrong sounds (docs/training.md, "Picture jitter").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mfmjt_core.training.train_config import check_strength

# Ranges at strength 1; strength s shrinks each toward "unchanged" linearly.
BRIGHTNESS = 0.25  # x U(1 - b, 1 + b)
CONTRAST = 0.3  # around the clip's mean grey level, x U(1 - c, 1 + c)


@dataclass(frozen=True)
class PictureJitter:
    """One clip's draw."""

    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0


def draw_jitter(strength: float, generator: torch.Generator) -> PictureJitter:
    """A clip's jitter at `strength` in [0, 1] (0: unchanged, and no draw is taken)."""
    if check_strength(strength) == 0.0:
        return PictureJitter()
    u = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
    return PictureJitter(
        flip=u[0] < 0.5,
        brightness=1.0 + strength * BRIGHTNESS * (2 * u[1] - 1),
        contrast=1.0 + strength * CONTRAST * (2 * u[2] - 1),
    )


def apply_jitter(frames: torch.Tensor, jitter: PictureJitter) -> torch.Tensor:
    """(T, H, W, 3) float frames in [0, 1] -> the same frames as `jitter` shows them."""
    if jitter == PictureJitter():
        return frames
    x = frames.flip(2) if jitter.flip else frames
    if (jitter.contrast, jitter.brightness) != (1.0, 1.0):
        mean = x.mean()
        x = ((mean + jitter.contrast * (x - mean)) * jitter.brightness).clamp(0.0, 1.0)
    return x.contiguous()
