"""MMAudio's frame transform: torchvision's bicubic resize and centre crop on uint8 frames.

MMAudio (eval_utils.load_video) decodes every frame to RGB at its coded size and then runs
torchvision's `v2.Resize(..., BICUBIC)` (antialiased, on uint8, so the result is rounded to
uint8) and, for Synchformer, `v2.CenterCrop(224)`. The features its networks were trained on
come from exactly those pixels, so this calls the same torchvision functions instead of
libswscale, whose bicubic differs by tens of levels. Sizes follow torchvision too: a short side
of 224 gives a long side of int(224 * long / short) (truncated), and the crop's offset is
round((side - crop) / 2) with Python's round-half-to-even. The sample aspect ratio is ignored,
as MMAudio ignores it. torch and torchvision are imported on first use.
"""

from __future__ import annotations

import numpy as np

# Names this transform in cache keys: features cached from frames scaled another way (libswscale,
# before this module existed) are not served for it.
TRANSFORM_ID = "torchvision-bicubic-aa-uint8"


def mmaudio_resize(
    rgb: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    short_side: int | None = None,
    center_crop: int | None = None,
) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (h, w, 3): resize to `size` (height, width) or so that the
    shorter side is `short_side`, then optionally cut the central `center_crop` square."""
    if (size is None) == (short_side is None):
        raise ValueError("give exactly one of size and short_side")
    import torch
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as tvf

    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)  # CHW view, as v2 sees
    target = list(size) if size is not None else [short_side]
    image = tvf.resize(image, target, interpolation=InterpolationMode.BICUBIC, antialias=True)
    if center_crop is not None:
        height, width = image.shape[-2:]
        if center_crop > min(height, width):
            raise ValueError(f"center_crop {center_crop} is larger than the frame ({width}x{height})")
        image = tvf.center_crop(image, [center_crop, center_crop])
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())
