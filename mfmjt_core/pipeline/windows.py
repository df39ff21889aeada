"""Covering a long range with overlapping model windows, and stitching their audio.

A range no longer than the model's window is one window of exactly its length (the network
takes any duration). A longer range is covered by windows of the model's length that overlap by
`overlap` seconds, the last one aligned to the range's end; their audio is joined with
equal-power (sin/cos) crossfades over each overlap, so a steady sound keeps its loudness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    index: int
    start: float  # seconds from the range start
    duration: float


def plan_windows(length: float, window: float, overlap: float = 1.0) -> list[Window]:
    if length <= 0:
        raise ValueError("range length must be positive")
    if length <= window:
        return [Window(0, 0.0, length)]
    if not 0 < overlap < window:
        raise ValueError("overlap must be between 0 and the window length")
    count = math.ceil((length - overlap) / (window - overlap))
    hop = (length - window) / (count - 1)  # spread evenly: every overlap is >= `overlap`
    return [Window(i, i * hop, window) for i in range(count)]


def window_samples(w: Window, sample_rate: int) -> tuple[int, int]:
    """(first sample, sample count) of a window at `sample_rate`."""
    begin = round(w.start * sample_rate)
    return begin, round((w.start + w.duration) * sample_rate) - begin


def stitch(pieces: list[np.ndarray], windows: list[Window], sample_rate: int, total: int) -> np.ndarray:
    """Join (..., n) pieces at their windows' places into (..., total) samples with equal-power
    crossfades; each piece is trimmed or zero-padded to its window's sample count first."""
    spans = [window_samples(w, sample_rate) for w in windows]
    out = np.zeros((*pieces[0].shape[:-1], total), dtype=np.float32)
    for i, (piece, (begin, count)) in enumerate(zip(pieces, spans)):
        piece = np.pad(piece[..., :count], [(0, 0)] * (piece.ndim - 1) + [(0, max(0, count - piece.shape[-1]))])
        gain = np.ones(count, dtype=np.float32)
        if i > 0:  # fade in where the previous window still sounds
            n = spans[i - 1][0] + spans[i - 1][1] - begin
            gain[:n] *= np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n)
        if i + 1 < len(spans):  # fade out where the next window starts
            n = begin + count - spans[i + 1][0]
            gain[count - n:] *= np.cos(0.5 * np.pi * (np.arange(n) + 0.5) / n)
        end = min(total, begin + count)
        out[..., begin:end] += (piece * gain)[..., : end - begin]
    return out
