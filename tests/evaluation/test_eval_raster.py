"""PNG writing, text drawing, colormap and the spectrogram figure, read back with Pillow."""

from __future__ import annotations

import numpy as np
import pytest

from mfmjt_core.evaluation.figure import PANEL_H, PANEL_W, FigureRow, render_figure, write_figure
from mfmjt_core.evaluation.raster import colormap, draw_text, text_width, write_png

Image = pytest.importorskip("PIL.Image")


def test_png_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = write_png(tmp_path / "x.png", image)
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (53, 37)
        np.testing.assert_array_equal(np.asarray(im), image)
    with pytest.raises(ValueError):
        write_png(tmp_path / "bad.png", np.zeros((4, 4)))


def test_text_and_colormap():
    canvas = np.zeros((20, 100, 3), np.uint8)
    draw_text(canvas, 2, 2, "Ab1", (255, 0, 0), scale=2)
    assert canvas[..., 0].any() and not canvas[..., 1].any()
    assert text_width("abc", 2) == 36
    ends = colormap(np.array([0.0, 1.0, 2.0, -1.0]))
    assert ends.dtype == np.uint8 and tuple(ends[0]) == (0, 0, 4) and tuple(ends[1]) == tuple(ends[2])
    assert tuple(ends[3]) == tuple(ends[0])


def test_figure_marks_events(tmp_path, test_clips):
    clip = test_clips[0]
    events = tuple((e.time_s, e.kind) for e in clip.events)
    rows = [FigureRow("seed 1: test", events, 8.0, (clip.audio, None))]
    image = render_figure(rows, ["reference", "empty"])
    assert image.shape[1] == 2 * PANEL_W + 2 * 16 + 14 and image.shape[0] > PANEL_H
    path = write_figure(tmp_path / "fig.png", rows, ["reference", "empty"])
    with Image.open(path) as im:
        im.load()
        assert im.size == (image.shape[1], image.shape[0])
        pixels = np.asarray(im)
    # The flash at 0.44 s is drawn in red in the tick strip above the panels.
    assert ((pixels[..., 0] == 255) & (pixels[..., 1] == 70) & (pixels[..., 2] == 70)).any()
