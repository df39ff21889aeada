"""The range render: small, silent, exactly the range, and every setting put back."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from blender_testing import add_color, add_effect, add_movie, add_scene_strip, import_bpy, span

bpy = import_bpy()


def _all_settings(scene) -> dict:
    """Every readable plain property of render, image settings and ffmpeg, plus the frame fields
    (written independently of the extension's own snapshot, which is what is under test)."""
    out = {}
    for prefix, struct in (("render", scene.render), ("image", scene.render.image_settings),
                           ("ffmpeg", scene.render.ffmpeg)):
        for prop in struct.bl_rna.properties:
            if prop.type in ("POINTER", "COLLECTION") or prop.identifier == "rna_type":
                continue
            value = getattr(struct, prop.identifier)
            is_array = hasattr(value, "__getitem__") and not isinstance(value, str)
            out[f"{prefix}.{prop.identifier}"] = value[:] if is_array else value
    for name in ("frame_start", "frame_end", "frame_step", "frame_current", "frame_preview_start",
                 "frame_preview_end", "use_preview_range"):
        out[f"scene.{name}"] = getattr(scene, name)
    return out


def _unusual_settings(scene) -> None:
    """Settings a user might have that the range render must change and then restore."""
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = 1280, 720, 50
    r.filepath = "//renders/shot_"
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = "RGBA"
    r.image_settings.color_depth = "16"
    r.image_settings.compression = 90
    r.use_stamp = True
    r.use_border = True
    r.border_min_x, r.border_max_x = 0.25, 0.5
    r.use_compositing = False
    r.use_sequencer = False
    r.use_file_extension = False
    r.use_overwrite = False
    r.use_placeholder = True
    r.ffmpeg.audio_codec = "MP3"
    r.ffmpeg.gopsize = 99
    r.ffmpeg.constant_rate_factor = "LOWEST"
    r.ffmpeg.ffmpeg_preset = "BEST"
    scene.frame_start, scene.frame_end, scene.frame_step, scene.frame_current = 3, 140, 2, 33
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 10, 40


def _load_movie(scene, path):
    strip = add_movie(scene, path, channel=20, frame_start=1)
    first, end = span(strip)
    info = (end - first, strip.elements[0].orig_width, strip.elements[0].orig_height, strip.fps)
    ed = scene.sequence_editor
    (ed.strips if hasattr(ed, "strips") else ed.sequences).remove(strip)
    return info


def test_render_restores_every_setting(extension, scene, videos, tmp_path):
    add_movie(scene, videos["24"], channel=1, frame_start=1)
    add_color(scene, channel=2, start=20, end=30)
    _unusual_settings(scene)
    before = _all_settings(scene)
    frames = extension.timeline.FrameRange(12, 36, "preview")
    path = extension.render.render_range(scene, frames, str(tmp_path), height=48)
    after = _all_settings(scene)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert changed == {}
    assert path.endswith(".mp4") and str(tmp_path) in path
    count, width, height, fps = _load_movie(scene, path)
    # exactly the range; 1280x720 at most 48 px high with even sides: 5 % = 64x36
    assert (count, width, height) == (24, 64, 36)
    assert fps == pytest.approx(24.0)


def test_render_restores_scaled_blur_and_scene_strip_percentage(extension, scene, videos, tmp_path):
    # The render scales pixel-sized settings with its percentage (blur sizes, the percentage a
    # scene strip's scene renders at); the user's values come back afterwards.
    movie = add_movie(scene, videos["24"], channel=1, frame_start=1)
    blur = add_effect(scene, "GAUSSIAN_BLUR", channel=2, start=1, end=20, input1=movie)
    blur.size_x, blur.size_y = 12.5, 3.0
    inner = bpy.data.scenes.new("inner for the restore test")
    inner.render.resolution_percentage = 80
    try:
        add_scene_strip(scene, inner, channel=3, start=30)
        extension.render.render_range(scene, extension.timeline.FrameRange(1, 4, "scene"), str(tmp_path), height=64)
        assert (blur.size_x, blur.size_y) == (12.5, 3.0)
        assert inner.render.resolution_percentage == 80
    finally:
        bpy.data.scenes.remove(inner)


def test_render_of_a_fresh_scene_changes_only_the_unset_preset(extension, scene, tmp_path):
    # A scene that never rendered video holds no valid ffmpeg preset (it reads as ""). Choosing
    # video output sets Blender's default, as the UI does; the value "" cannot be written back.
    add_color(scene, channel=1, start=1, end=3)
    before = _all_settings(scene)
    assert before["ffmpeg.ffmpeg_preset"] == ""
    extension.render.render_range(scene, extension.timeline.FrameRange(1, 3, "scene"), str(tmp_path), 32)
    after = _all_settings(scene)
    assert {k for k in before if before[k] != after[k]} == {"ffmpeg.ffmpeg_preset"}
    assert after["ffmpeg.ffmpeg_preset"] == "GOOD"


def test_render_refuses_a_range_without_picture(extension, scene, tmp_path):
    before = _all_settings(scene)
    with pytest.raises(extension.render.RenderError, match="show no picture"):
        extension.render.render_range(scene, extension.timeline.FrameRange(1, 10, "scene"), str(tmp_path))
    assert _all_settings(scene) == before and list(tmp_path.iterdir()) == []


def test_render_at_2997_keeps_the_rate(extension, scene, videos, tmp_path):
    scene.render.fps, scene.render.fps_base = 30, 1.001
    add_movie(scene, videos["2997"], channel=1, frame_start=1)
    path = extension.render.render_range(scene, extension.timeline.FrameRange(1, 31, "scene"), str(tmp_path), 64)
    count, _w, height, fps = _load_movie(scene, path)
    assert (count, height) == (30, 54)  # 1920x1080 at 5 %: the largest percentage under 64 px
    assert fps == pytest.approx(30000 / 1001, abs=1e-3)


def test_failed_render_restores_settings(extension, scene, tmp_path, monkeypatch):
    add_color(scene, channel=1, start=1, end=20)
    _unusual_settings(scene)
    before = _all_settings(scene)

    def broken(**kwargs):
        raise RuntimeError("Error: simulated failure")

    fake_ops = SimpleNamespace(render=SimpleNamespace(render=broken))
    monkeypatch.setattr(extension.render, "bpy", SimpleNamespace(ops=fake_ops))
    with pytest.raises(extension.render.RenderError, match="simulated failure"):
        extension.render.render_range(scene, extension.timeline.FrameRange(1, 10, "scene"), str(tmp_path))
    assert _all_settings(scene) == before


def test_a_range_before_frame_0_is_refused_before_rendering(extension, scene, videos, tmp_path):
    # Blender renders from frame 0: the clip started 10 frames late, ran 10 short, and the daemon
    # answered 'bad media' about a range past the end of the video
    add_movie(scene, videos["24"], channel=1, frame_start=-10, select=True)
    frames = extension.timeline.generation_range(scene)
    assert (frames.start, frames.end) == (-10, 38)
    with pytest.raises(extension.render.RenderError, match="starts at frame -10, and Blender renders from frame 0"):
        extension.render.render_range(scene, frames, str(tmp_path))
    assert list(tmp_path.iterdir()) == []
