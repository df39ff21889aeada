"""The picture sent to the daemon is the sequencer's composition, downscaled as a whole.

Each case builds a composition a user could make (scene size and percentage, footage at
1920x1080 or small footage fitted the way Add > Movie fits it, strip transforms, fit methods,
effect / text / colour / meta / scene strips, a muted channel, proxies), sends a two-frame range
through the extension's range render, and compares every sent frame with a full-resolution
(100 %) render of the same frame, downscaled by area averaging (tests/blender/picture_measure.py):
PSNR >= 30 dB. A crop, a shift or a wrongly sized effect costs far more (a 1920x1080 clip cropped
to its centre scores about 14 dB).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from blender_testing import (
    MAIN_PYTHON,
    ROOT,
    add_color,
    add_effect,
    add_movie_like_menu,
    add_scene_strip,
    import_bpy,
    trim,
)

bpy = import_bpy()

MIN_PSNR_DB = 30.0
FIRST, FRAMES = 4, 2  # the range sent: frames 4 and 5 (the footage moves between them)
MEASURE = Path(__file__).with_name("picture_measure.py")
INNER = "picture test: inner scene"

FOOTAGE_SCRIPT = """
import sys
from fractions import Fraction
import numpy as np
from mfmjt_core.media import write_video

def frames(count, h, w):
    # A gradient, a grid of coloured blocks (a crop or a shift moves every edge) and a bright
    # bar crossing the frame.
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 200 // w + 20, y * 200 // h + 20, (x + y) * 100 // (w + h) + 60], -1)
    out = np.repeat(base.astype(np.uint8)[None], count, 0)
    b = max(2, h // 12)
    for i in range(0, w - b, 3 * b):
        for j in range(0, h - b, 3 * b):
            out[:, j:j + b, i:i + b] = ((i * 7) % 255, (j * 5) % 255, 200)
    for t in range(count):
        x0 = (t * w // count) % (w - 2 * b)
        out[t, h // 2 - b:h // 2 + b, x0:x0 + 2 * b] = 250
    return out

for path, h, w in [(sys.argv[1], 1080, 1920), (sys.argv[2], 240, 320)]:
    write_video(path, frames(12, h, w), Fraction(24))
"""


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> dict[str, str]:
    """Half-second 24 fps clips: 1920x1080 and a small 320x240 (4:3, so fitting pillarboxes it)."""
    folder = tmp_path_factory.mktemp("footage")
    paths = {"hd": str(folder / "hd.mp4"), "small": str(folder / "small.mp4")}
    subprocess.run([str(MAIN_PYTHON), "-c", FOOTAGE_SCRIPT, paths["hd"], paths["small"]], check=True, cwd=ROOT)
    return paths


def _movie(scene, path, channel=1, fit=None):
    if fit is None:
        return add_movie_like_menu(scene, path, channel=channel, frame_start=1)
    ed = scene.sequence_editor
    collection = ed.strips if hasattr(ed, "strips") else ed.sequences
    return collection.new_movie(name=Path(path).stem, filepath=path, channel=channel, frame_start=1, fit_method=fit)


def _hd(scene, footage):
    _movie(scene, footage["hd"])


def _canvas(width, height, pct):
    def build(scene, footage):
        r = scene.render
        r.resolution_x, r.resolution_y, r.resolution_percentage = width, height, pct
        _movie(scene, footage["hd"])
    return build


def _small(fit):
    def build(scene, footage):
        strip = _movie(scene, footage["small"], fit=fit)
        if fit is None:  # Add > Movie's fit (Scale to Fit): 1080 / 240
            assert strip.transform.scale_x == pytest.approx(4.5)
    return build


def _transformed(scene, footage):
    hd = _movie(scene, footage["hd"])
    t = hd.transform
    t.scale_x, t.scale_y, t.offset_x, t.offset_y, t.rotation = 0.6, 0.5, 240, -120, math.radians(17)
    hd.crop.min_x, hd.crop.max_y = 100, 60
    small = _movie(scene, footage["small"], channel=2)
    small.transform.offset_x, small.transform.offset_y = -500, 250
    small.crop.max_x = 40
    small.use_flip_x = True


def _text(scene, footage):
    _movie(scene, footage["hd"])
    text = add_effect(scene, "TEXT", channel=2, start=1, end=12)
    text.text, text.font_size, text.location = "Thunder at dusk", 110, (0.3, 0.25)


def _colour(scene, footage):
    _movie(scene, footage["small"])
    colour = add_color(scene, channel=2, start=1, end=12)
    colour.color, colour.blend_type, colour.blend_alpha = (0.8, 0.3, 0.1), "ALPHA_OVER", 0.4


def _blur(scene, footage):
    hd = _movie(scene, footage["hd"])
    blur = add_effect(scene, "GAUSSIAN_BLUR", channel=2, start=1, end=12, input1=hd)
    blur.size_x, blur.size_y = 24.0, 9.0


def _glow(scene, footage):
    hd = _movie(scene, footage["hd"])
    glow = add_effect(scene, "GLOW", channel=2, start=1, end=12, input1=hd)
    glow.threshold, glow.blur_radius = 0.6, 30.0


def _meta(scene, footage):
    small = _movie(scene, footage["small"])
    text = add_effect(scene, "TEXT", channel=2, start=1, end=12)
    text.text, text.font_size = "inside a meta strip", 90
    blur = add_effect(scene, "GAUSSIAN_BLUR", channel=3, start=1, end=12, input1=small)
    blur.size_x = blur.size_y = 12.0
    ed = scene.sequence_editor
    meta = (ed.strips if hasattr(ed, "strips") else ed.sequences).new_meta(name="meta", channel=5, frame_start=1)
    for strip in (small, text):  # the blur follows its input
        strip.move_to_meta(meta)
    assert {s.name for s in (meta.strips if hasattr(meta, "strips") else meta.sequences)} == {
        small.name,
        text.name,
        blur.name,
    }
    trim(meta, end=12)  # a meta made by the API keeps its one-frame length until its handle moves
    meta.transform.offset_x, meta.transform.scale_x, meta.transform.scale_y = 200, 0.8, 0.8


def _scene_strip(scene, footage):
    inner = bpy.data.scenes.new(INNER)
    inner.sequence_editor_create()
    inner.render.fps, inner.frame_start, inner.frame_end = 24, 1, 12
    _movie(inner, footage["hd"])
    blur = add_effect(inner, "GAUSSIAN_BLUR", channel=2, start=1, end=12, input1=inner.sequence_editor.strips_all[0]
                      if hasattr(inner.sequence_editor, "strips_all") else inner.sequence_editor.sequences_all[0])
    blur.size_x = blur.size_y = 16.0
    strip = add_scene_strip(scene, inner, channel=2, start=1)
    strip.transform.offset_x, strip.transform.scale_x, strip.transform.scale_y = -300, 0.7, 0.7
    _movie(scene, footage["small"])  # below the scene strip


def _muted_channel(scene, footage):
    _movie(scene, footage["hd"])
    add_color(scene, channel=3, start=1, end=12).color = (1.0, 0.0, 1.0)  # would hide everything
    scene.sequence_editor.channels[3].mute = True


def _proxy(scene, footage):
    # Proxies serve the preview at reduced sizes; a render never uses them, so the picture is
    # the same as without (the proxy is asked for, not built: building needs the editor's UI).
    hd = _movie(scene, footage["hd"])
    hd.use_proxy = True
    hd.proxy.build_25 = True
    scene.sequence_editor.proxy_storage = "PER_STRIP"


CASES = {
    "hd_1080p_100pct": _hd,
    "hd_in_1280x720_at_50pct": _canvas(1280, 720, 50),
    "hd_in_odd_1001x563": _canvas(1001, 563, 100),
    "small_added_like_the_menu": _small(None),
    "small_fill": _small("FILL"),
    "small_stretch": _small("STRETCH"),
    "small_original": _small("ORIGINAL"),
    "scale_offset_rotation_crop_flip": _transformed,
    "text": _text,
    "colour_over_small": _colour,
    "gaussian_blur": _blur,
    "glow": _glow,
    "meta_with_text_and_blur": _meta,
    "scene_strip": _scene_strip,
    "muted_channel": _muted_channel,
    "proxy": _proxy,
}


def _render_full(scene, frame: int, path: Path) -> None:
    """The reference: the same frame at 100 % of the scene's resolution, as a PNG."""
    r = scene.render
    r.resolution_percentage = 100
    r.use_sequencer, r.use_compositing = True, False
    if hasattr(r.image_settings, "media_type"):  # 5.0
        r.image_settings.media_type = "IMAGE"
    r.image_settings.file_format, r.image_settings.color_mode = "PNG", "RGB"
    r.filepath = str(path)
    scene.frame_set(frame)
    bpy.ops.render.render(write_still=True, scene=scene.name)


@pytest.mark.parametrize("case", list(CASES))
def test_sent_picture_is_the_whole_composition_downscaled(extension, scene, footage, tmp_path, case):
    try:
        _compare(extension, scene, footage, tmp_path, case)
    finally:
        for other in [s for s in bpy.data.scenes if s.name.startswith(INNER)]:
            bpy.data.scenes.remove(other)


def _compare(extension, scene, footage, tmp_path, case):
    CASES[case](scene, footage)
    size = extension.render.render_size(scene, 384)
    frames = extension.timeline.FrameRange(FIRST, FIRST + FRAMES, "scene")
    sent = extension.render.render_range(scene, frames, str(tmp_path), 384)
    fulls = []
    for frame in range(frames.start, frames.end):
        fulls.append(tmp_path / f"full_{frame}.png")
        _render_full(scene, frame, fulls[-1])
    done = subprocess.run([str(MAIN_PYTHON), str(MEASURE), sent, *map(str, fulls)], check=True,
                          capture_output=True, text=True, cwd=ROOT)
    report = json.loads(done.stdout)
    print(case, report)
    assert report["sent"] == [[size.height, size.width]] * FRAMES
    assert report["full"] == [[scene.render.resolution_y, scene.render.resolution_x]] * FRAMES
    assert min(report["spread"]) >= 20, report  # there is a picture to compare
    assert min(report["psnr"]) >= MIN_PSNR_DB, report
