"""Range, rate, channel and naming rules, in real Blender scenes (no daemon needed)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from blender_testing import add_color, add_movie, import_bpy, trim

bpy = import_bpy()


@pytest.mark.parametrize("fps, base, expected", [
    (24, 1.0, Fraction(24)), (25, 1.0, Fraction(25)), (30000, 1001.0, Fraction(30000, 1001)),
    (30, 1.001, Fraction(30000, 1001)), (24, 1.001, Fraction(24000, 1001)),
    (60, 1.001, Fraction(60000, 1001)),  # fps holds at most 32767, so 59.94 is only spelled 60/1.001
])
def test_scene_fps_is_exact(extension, scene, fps, base, expected):
    scene.render.fps, scene.render.fps_base = fps, base
    assert extension.timeline.scene_fps(scene) == expected


def test_range_is_selection_union_then_preview_then_scene(extension, scene, videos):
    tl = extension.timeline
    a = add_movie(scene, videos["24"], channel=1, frame_start=10)  # 48 frames: [10, 58)
    b = add_color(scene, channel=3, start=80, end=100)
    scene.frame_start, scene.frame_end = 5, 120
    assert tl.generation_range(scene) == tl.FrameRange(5, 121, "scene")
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 20, 49
    assert tl.generation_range(scene) == tl.FrameRange(20, 50, "preview")
    a.select = b.select = True
    assert tl.generation_range(scene) == tl.FrameRange(10, 100, "selection")
    b.select = False
    trim(a, 16, 40)  # trimmed on both sides
    assert tl.generation_range(scene) == tl.FrameRange(16, 40, "selection")


def test_playhead_range_rounds_to_whole_frames(extension, scene):
    scene.frame_current = 37
    assert extension.timeline.playhead_range(scene, 1.5) == extension.timeline.FrameRange(37, 73, "playhead")
    scene.render.fps, scene.render.fps_base = 30000, 1001
    # 2 s at 29.97 fps is 59.94 frames: 60 whole frames
    assert extension.timeline.playhead_range(scene, 2.0).frames == 60


def test_channels_above_the_picture_skip_busy_ones(extension, scene, videos):
    tl = extension.timeline
    add_movie(scene, videos["24"], channel=2, frame_start=1, select=True)  # [1, 49)
    add_color(scene, channel=3, start=30, end=60)  # overlaps the range: channel 3 is busy
    add_color(scene, channel=5, start=60, end=90)  # outside the range: channel 5 is free
    frames = tl.generation_range(scene)
    assert tl.picture_channel(scene, frames) == 2
    assert tl.free_channels(scene, frames, above=2, count=3) == [4, 5, 6]
    with pytest.raises(ValueError, match="free channel"):
        tl.free_channels(scene, frames, above=126, count=3)


def test_preview_range_picture_is_everything_visible(extension, scene, videos):
    tl = extension.timeline
    add_movie(scene, videos["24"], channel=1, frame_start=1)
    add_color(scene, channel=4, start=10, end=20)  # picture on top, in the range
    add_color(scene, channel=7, start=200, end=220)  # outside the range
    assert tl.picture_channel(scene, tl.FrameRange(1, 49, "preview")) == 4


def test_strip_names_carry_prompt_and_seed_within_blenders_limit(extension):
    name = extension.timeline.strip_name
    assert name("rain on a  tin roof", 7) == "rain on a tin roof (seed 7)"
    assert name("", 3) == "MF-MJT (seed 3)"
    long = name("très longue pluie sur un toit de tôle, tonnerre au loin, " * 3, 2147483630)
    assert long.endswith("... (seed 2147483630)") and len(long.encode()) <= 60
    assert extension.timeline.file_stem("Rain / Tin Roof!", 5, "abcdef0123") == "rain_tin_roof_seed5_abcdef01"


@pytest.mark.parametrize("size, percent, height, expected", [
    ((1920, 1080), 100, 384, (672, 378, 35, (1920, 1080))),
    ((1280, 720), 50, 384, (640, 360, 50, (1280, 720))),  # already smaller: never upscaled
    ((1080, 1920), 100, 384, (216, 384, 20, (1080, 1920))),  # portrait
    ((1001, 563), 100, 384, (680, 382, 68, (1001, 563))),  # a lower percentage gives even sides
    ((999, 555), 100, 100, (180, 100, 18, (1000, 556))),  # none does: one pixel more canvas
])
def test_render_size(extension, scene, size, percent, height, expected):
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = percent
    got = extension.render.render_size(scene, height)
    assert (got.width, got.height, got.percentage, got.resolution) == expected
    assert extension.render.preview_size(scene, height) == expected[:2]


def _enter_meta(scene, members):
    """Make a meta strip of `members` and go into it (Tab), with the sequencer's own operators in a
    sequencer area made for them, as an editor does."""
    window = bpy.context.window_manager.windows[0]
    window.scene = scene
    workspace = window.workspace  # 5.0: the sequencer edits the workspace's scene, not the window's
    was_edited = getattr(workspace, "sequencer_scene", None)
    if hasattr(workspace, "sequencer_scene"):
        workspace.sequencer_scene = scene
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    was, area.type = area.type, "SEQUENCE_EDITOR"
    try:
        region = next(r for r in area.regions if r.type == "WINDOW")
        for strip in scene.sequence_editor.strips_all:
            strip.select = strip in members
        with bpy.context.temp_override(window=window, area=area, region=region, scene=scene):
            bpy.ops.sequencer.meta_make()
            bpy.ops.sequencer.meta_toggle()
    finally:
        area.type = was
        if hasattr(workspace, "sequencer_scene"):
            workspace.sequencer_scene = was_edited


def test_inside_a_meta_strip_the_strips_selected_there_are_the_range_and_takes_go_there(extension, scene, videos):
    # the range was the meta's (or the whole scene's) and takes went to the top level, out of view
    tl, compat = extension.timeline, extension.compat
    outer = add_movie(scene, videos["24"], channel=2, frame_start=1)  # [1, 49)
    inner = add_movie(scene, videos["24"], channel=3, frame_start=60)  # [60, 108)
    _enter_meta(scene, [outer, inner])
    ed = scene.sequence_editor
    assert len(ed.meta_stack) == 1
    shown = compat.strips(scene)
    assert {s.name for s in shown} == {outer.name, inner.name}
    for strip in shown:
        strip.select = strip.name == inner.name
    frames = tl.generation_range(scene)
    assert frames == tl.FrameRange(60, 108, "selection")
    assert tl.picture_channel(scene, frames) == 3
    (channel,) = tl.free_channels(scene, frames, above=3, count=1)
    take = compat.new_sound(scene, "take", str(videos["24"]), channel, frames.start)
    meta = ed.meta_stack[-1]
    assert take.name in {s.name for s in meta.strips} and take.name not in {s.name for s in ed.strips}
