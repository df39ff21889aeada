"""Per-clip picture jitter for training on the procedural world (`TrainConfig.picture_augment`).

The world draws every clip in its own house style: coloured walls, textured floors, objects a
tenth of the frame high. Footage from elsewhere (Blender renders, a phone) looks different, and a
picture encoder fitted to one style reads its quirks as events: the flow-matching line sounded
onsets that were not there on clips rendered in Blender (docs/evaluation.md, "Clips made outside
the project"). Jittering how a clip looks, never what happens in it, asks the encoders to read
events from motion and material from the object rather than from the house style.

One draw per clip, applied to every frame alike, so motion is untouched; the audio is unchanged,
so only changes that keep the sound's cause in view are allowed: a mirror image (the audio is
mono), zooming out (objects smaller, the border colour around them) but never in (cropping an
object off would teach sounds without a visible cause), brightness, contrast and saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Ranges at strength 1; strength s shrinks each toward "unchanged" linearly.
SMALLEST_SCALE = 0.7  # zoomed out to 70%: a 32 px frame's 3 px ball becomes 2 px
BRIGHTNESS = 0.25  # x U(1 - b, 1 + b)
CONTRAST = 0.3  # around the clip's mean grey level
DESATURATION = 0.7  # saturation x U(1 - d, 1 + 0.3 d): down to near grey, a little above


@dataclass(frozen=True)
class PictureJitter:
    """One clip's draw. `scale` <= 1 zooms out; `shift` moves the shrunken picture within the
    frame (fractions of the frame, so the whole picture stays inside)."""

    flip: bool = False
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0


def check_strength(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"picture_augment is a strength in [0, 1], got {strength}")
    return strength


def draw_jitter(strength: float, generator: torch.Generator) -> PictureJitter:
    """A clip's jitter at `strength` in [0, 1] (0: unchanged, and no draw is taken)."""
    if check_strength(strength) == 0.0:
        return PictureJitter()
    u = torch.rand(7, generator=generator, dtype=torch.float64).tolist()
    scale = 1.0 - strength * (1.0 - SMALLEST_SCALE) * u[1]
    room = 1.0 - scale  # the picture's centre may move this far (in half-frames) and stay whole
    return PictureJitter(
        flip=u[0] < 0.5,
        scale=scale,
        shift=(room * (2 * u[2] - 1), room * (2 * u[3] - 1)),
        brightness=1.0 + strength * BRIGHTNESS * (2 * u[4] - 1),
        contrast=1.0 + strength * CONTRAST * (2 * u[5] - 1),
        saturation=1.0 + strength * DESATURATION * (1.3 * u[6] - 1),
    )


def apply_jitter(frames: torch.Tensor, jitter: PictureJitter) -> torch.Tensor:
    """(T, H, W, 3) float frames in [0, 1] -> the same frames as `jitter` shows them."""
    if jitter == PictureJitter():
        return frames
    x = frames.permute(0, 3, 1, 2)  # (T, 3, H, W)
    if jitter.flip:
        x = x.flip(-1)
    if jitter.scale != 1.0 or jitter.shift != (0.0, 0.0):
        # output pixel p samples the input at (p - shift) / scale: the picture shrinks by `scale`
        # around a centre moved by `shift`; outside it, the picture's own border colour
        inv = 1.0 / jitter.scale
        dx, dy = jitter.shift
        theta = torch.tensor([[inv, 0.0, -dx * inv], [0.0, inv, -dy * inv]], dtype=x.dtype)
        grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if (jitter.saturation, jitter.contrast, jitter.brightness) != (1.0, 1.0, 1.0):
        grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
        x = grey + jitter.saturation * (x - grey)
        x = x.mean() + jitter.contrast * (x - x.mean())
        x = (x * jitter.brightness).clamp(0.0, 1.0)
    return x.permute(0, 2, 3, 1).contiguous()
