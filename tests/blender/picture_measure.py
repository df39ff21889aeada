"""How closely a sent range render matches full-resolution renders of the same frames.

Run by the Blender picture tests in the main venv (PyAV and numpy; bpy's venv has no PyAV):
    python picture_measure.py SENT.mp4 FULL_1.png FULL_2.png ...
prints JSON: the sent frames' sizes, the full renders' sizes and, for each sent frame, its PSNR
(dB, RGB 0..255) against the full render of the same frame downscaled to the sent size by area
averaging (each output pixel the mean of the full-resolution pixels it covers), and that
reference's standard deviation (a blank picture would match a blank one perfectly).
"""

from __future__ import annotations

import json
import sys

import av
import numpy as np


def frames(path: str) -> list[np.ndarray]:
    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): row o averages the input span [o, o + 1) * n_in / n_out, partial pixels weighted."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0, None)
    return overlap / overlap.sum(1, keepdims=True)


def downscale(image: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, cols = area_weights(image.shape[0], height), area_weights(image.shape[1], width)
    return np.stack([rows @ image[:, :, c].astype(np.float64) @ cols.T for c in range(3)], -1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


def main(sent_path: str, *full_paths: str) -> dict:
    sent = frames(sent_path)
    report = {"sent": [list(f.shape[:2]) for f in sent], "full": [], "psnr": [], "spread": []}
    for frame, path in zip(sent, full_paths):
        full = frames(path)[0]
        reference = downscale(full, *frame.shape[:2])
        report["full"].append(list(full.shape[:2]))
        report["psnr"].append(round(psnr(reference, frame), 2))
        report["spread"].append(round(float(reference.std()), 1))  # a blank picture would match anything
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
