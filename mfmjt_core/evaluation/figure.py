"""The figure: mel spectrograms of a few test clips side by side, ground-truth events marked.

One row per clip, one column per source (reference, MeanFlow 1 step, flow matching 1 and 25
steps). Each panel is the evaluation's mel spectrogram (64 bands, low frequencies at the
bottom, -80 to 0 dB), the time axis max-pooled so short hits stay visible. Every ground-truth
event is a dotted vertical line and a tick above the panel, coloured by kind; people judge
sync faster by eye than from numbers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfmjt_core.evaluation.raster import GLYPH_H, colormap, draw_text, text_width, write_png
from mfmjt_core.evaluation.spectra import MelSpec, log_mel_db

KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "impact": (255, 255, 255),
    "collision": (0, 220, 255),
    "appear": (110, 255, 90),
    "flash": (255, 70, 70),
    "tone": (255, 70, 70),
    "slide": (150, 150, 150),
    "hum": (150, 150, 150),
}
PANEL_W, PANEL_H = 400, 128
MARGIN, GAP, TICKS = 16, 14, 10
BACKGROUND, INK = (255, 255, 255), (20, 20, 20)
FLOOR_DB = -80.0


@dataclass(frozen=True)
class FigureRow:
    """One clip: a title, its ground-truth events (time_s, kind) and one waveform per column
    (None leaves the panel empty)."""

    title: str
    events: tuple[tuple[float, str], ...]
    duration_s: float
    panels: tuple[np.ndarray | None, ...]


def spectrogram_panel(audio: np.ndarray, duration_s: float, spec: MelSpec = MelSpec()) -> np.ndarray:
    """RGB (PANEL_H, PANEL_W, 3) image of the audio's mel spectrogram."""
    db = log_mel_db(audio, spec, floor_db=FLOOR_DB)  # (frames, bands)
    frames = max(1, int(round(duration_s * spec.frame_rate)))
    db = np.pad(db[:frames], ((0, max(0, frames - db.shape[0])), (0, 0)), constant_values=FLOOR_DB)
    edges = np.linspace(0, frames, PANEL_W + 1).astype(int)
    cols = np.stack([db[a:max(b, a + 1)].max(axis=0) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    rows = np.repeat(cols[::-1], PANEL_H // cols.shape[0], axis=0)  # low bands at the bottom
    return colormap((rows - FLOOR_DB) / -FLOOR_DB)


def _tick_colour(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """White lines show on the spectrogram but not on the white page: ticks use ink instead."""
    return INK if colour == (255, 255, 255) else colour


def _x_of(time_s: float, duration_s: float) -> int:
    return int(round(np.clip(time_s / duration_s, 0.0, 1.0) * (PANEL_W - 1)))


def time_step_s(duration_s: float) -> int:
    """Seconds between labelled ticks of the time axis: about ten labels per panel at most."""
    return next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if duration_s / s <= 10), 1200)


def render_figure(rows: Sequence[FigureRow], columns: Sequence[str], title: str = "",
                  colours: Mapping[str, tuple[int, int, int]] = KIND_COLOURS) -> np.ndarray:
    """The whole figure as uint8 (H, W, 3); `colours` maps the event kinds to their colours
    (and makes the legend)."""
    ncol = len(columns)
    row_h = 2 * GLYPH_H + 6 + TICKS + PANEL_H + GLYPH_H + 10  # caption, ticks, panel, time axis
    top = MARGIN + (2 * GLYPH_H + 10 if title else 0) + 2 * GLYPH_H + 20
    legend_h = 2 * GLYPH_H + 12
    width = 2 * MARGIN + ncol * PANEL_W + (ncol - 1) * GAP
    height = top + len(rows) * (row_h + GAP) + legend_h + MARGIN
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    y = MARGIN
    if title:
        draw_text(image, MARGIN, y, title, INK, scale=2)
        y += 2 * GLYPH_H + 10
    for c, name in enumerate(columns):
        draw_text(image, MARGIN + c * (PANEL_W + GAP), y, name, INK, scale=2)
    image[y + 2 * GLYPH_H + 6, MARGIN:width - MARGIN] = INK  # rule under the column titles
    y = top
    for row in rows:
        max_chars = (width - 2 * MARGIN) // text_width("x", 2)
        caption = row.title if len(row.title) <= max_chars else row.title[:max_chars - 3] + "..."
        draw_text(image, MARGIN, y, caption, INK, scale=2)
        y_ticks = y + 2 * GLYPH_H + 6
        y_panel = y_ticks + TICKS
        for c, audio in enumerate(row.panels):
            x0 = MARGIN + c * (PANEL_W + GAP)
            if audio is not None:
                image[y_panel:y_panel + PANEL_H, x0:x0 + PANEL_W] = spectrogram_panel(audio, row.duration_s)
            else:
                image[y_panel:y_panel + PANEL_H, x0:x0 + PANEL_W] = (235, 235, 235)
            for t, kind in row.events:
                colour = colours.get(kind, (200, 200, 200))
                x = x0 + _x_of(t, row.duration_s)
                image[y_ticks + 2:y_ticks + TICKS - 1, x - 1:x + 2] = _tick_colour(colour)
                image[y_panel:y_panel + PANEL_H:4, x] = colour  # dotted: the spectrogram shows through
                image[y_panel + 1:y_panel + PANEL_H:4, x] = colour
            step = time_step_s(row.duration_s)
            for second in range(0, int(row.duration_s) + 1, step):  # time axis: a tick and label per step
                x = x0 + _x_of(second, row.duration_s)
                image[y_panel + PANEL_H:y_panel + PANEL_H + 3, x] = INK
                draw_text(image, min(x, x0 + PANEL_W - 6), y_panel + PANEL_H + 4, str(second), INK)
        y += row_h + GAP
    x = MARGIN
    draw_text(image, x, y, "EVENTS:", INK, scale=2)
    x += text_width("EVENTS: ", 2)
    shown: dict[tuple[int, int, int], list[str]] = {}
    for kind, colour in colours.items():
        shown.setdefault(colour, []).append(kind)
    for colour, kinds in shown.items():
        image[y:y + 2 * GLYPH_H, x:x + 10] = _tick_colour(colour)
        label = "/".join(kinds)
        draw_text(image, x + 14, y, label, INK, scale=2)
        x += 14 + text_width(label + "  ", 2)
    draw_text(image, x, y, "  TIME IN S, MEL 30 HZ-8 KHZ, -80..0 DB", INK, scale=2)
    return image


def write_figure(path: str | os.PathLike, rows: Sequence[FigureRow], columns: Sequence[str],
                 title: str = "", colours: Mapping[str, tuple[int, int, int]] = KIND_COLOURS) -> Path:
    """Render and write the figure as PNG."""
    return write_png(path, render_figure(rows, columns, title, colours))
