"""Render a frame range through the sequencer to a small silent MP4, then put every setting back.

What the editor sees is what the model hears: the render includes trims, effects, transforms,
text and retimed strips exactly as the preview shows them, the whole composition downscaled
(tests/blender/test_blender_picture.py compares it with full-resolution renders).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import bpy

from . import compat
from .timeline import FrameRange, overlaps

SCENE_FIELDS = ("frame_start", "frame_end", "frame_step", "frame_current")
# Restored first: each one changes which values the fields after it accept.
FIRST = {"image_settings": ("media_type", "file_format"), "ffmpeg": ("format", "codec")}


class RenderError(RuntimeError):
    """The range could not be rendered (the message says why, for the panel)."""


def _settable(struct: Any) -> list[str]:
    """Names of the plain (non-pointer, non-collection) writable properties of an RNA struct."""
    names = []
    for prop in struct.bl_rna.properties:
        if prop.is_readonly or prop.type in ("POINTER", "COLLECTION") or prop.identifier == "rna_type":
            continue
        names.append(prop.identifier)
    return names


def _value(struct: Any, name: str) -> Any:
    value = getattr(struct, name)
    return tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) else value


def snapshot(scene: Any) -> dict[str, dict[str, Any]]:
    """Every plain setting a range render can change: the scene's frame fields and all of
    render, render.image_settings and render.ffmpeg (changing the file format alone resets
    colour mode and depth, so the whole structs are kept, not just the fields we set)."""
    render = scene.render
    structs = {"render": render, "image_settings": render.image_settings, "ffmpeg": render.ffmpeg}
    saved = {key: {n: _value(s, n) for n in _settable(s)} for key, s in structs.items()}
    saved["scene"] = {n: getattr(scene, n) for n in SCENE_FIELDS}
    return saved


def restore(scene: Any, saved: dict[str, dict[str, Any]]) -> None:
    """Put back what `snapshot` saw; fields whose value did not change are not touched."""
    render = scene.render
    structs = {"image_settings": render.image_settings, "ffmpeg": render.ffmpeg, "render": render, "scene": scene}
    for key, struct in structs.items():
        values = saved[key]
        order = [n for n in FIRST.get(key, ()) if n in values] + [n for n in values if n not in FIRST.get(key, ())]
        failed = []
        for name in order:
            try:
                if _value(struct, name) != values[name]:
                    setattr(struct, name, values[name])
            except (TypeError, ValueError, AttributeError):
                failed.append(name)
        for name in failed:  # a value another field gated, now accepted
            try:
                if values[name] == "":
                    # An enum that held no valid item (a scene that never rendered video has
                    # ffmpeg_preset 0) cannot be written back; Blender's default is the closest.
                    setattr(struct, name, struct.bl_rna.properties[name].default)
                else:
                    setattr(struct, name, values[name])
            except (TypeError, ValueError, AttributeError):
                pass


@contextmanager
def settings_restored(scene: Any) -> Iterator[None]:
    """Restore the render settings on the way out, whatever happens inside."""
    saved = snapshot(scene)
    try:
        yield
    finally:
        restore(scene, saved)


@dataclass(frozen=True)
class RenderSize:
    """The range render's frame: `width` x `height` pixels, made by rendering a canvas of
    `resolution` at `percentage` %."""

    width: int
    height: int
    percentage: int
    resolution: tuple[int, int]


def _growth(side: int, pct: int) -> int:
    """The fewest pixels to add to a canvas side so that Blender's side * pct // 100 is even."""
    grow = 0
    while (side + grow) * pct // 100 % 2:
        grow += 1
    return grow


def render_size(scene: Any, height: int) -> RenderSize:
    """The scene's own canvas at a lower `resolution_percentage`: at most `height` pixels tall,
    never above the user's percentage.

    Lowering the percentage downscales the whole composition; shrinking resolution_x/y instead
    would crop it, because strip transforms (offsets, crops, fitted scales) are in scene pixels.
    Blender sizes the frame as resolution * percentage // 100 and its H.264 writer refuses odd
    sides, so the largest percentage (at most 25 below the cap) giving even sides wins. Where
    none does (999x555: every percentage gives an odd width) the canvas grows by the fewest
    pixels that make the sides even at the cap: the picture stays centred, with a border of a
    pixel or so at full resolution (well under one output pixel at 384 px high).
    """
    r = scene.render
    res_x, res_y = r.resolution_x, r.resolution_y
    top = max(1, min(r.resolution_percentage, height * 100 // res_y))
    for pct in range(top, max(0, top - 25), -1):
        w, h = res_x * pct // 100, res_y * pct // 100
        if w >= 2 and h >= 2 and w % 2 == 0 and h % 2 == 0:
            return RenderSize(w, h, pct, (res_x, res_y))
    res_x, res_y = res_x + _growth(res_x, top), res_y + _growth(res_y, top)
    return RenderSize(res_x * top // 100, res_y * top // 100, top, (res_x, res_y))


def preview_size(scene: Any, height: int) -> tuple[int, int]:
    """The output size in pixels (see `render_size`)."""
    size = render_size(scene, height)
    return size.width, size.height


def _scale_pixel_sizes(scene: Any, factor: float, put: Any, seen: set[str]) -> None:
    """Scale what Blender keeps in output pixels and does not scale with the percentage itself
    (measured in 4.5 and 5.0): Gaussian blur sizes, and the percentage a scene strip's scene is
    rendered at (its picture would otherwise come in at full size and be cropped). Strips inside
    meta strips and inside those scenes count too; each scene is scaled once."""
    seen.add(scene.name)
    for strip in compat.all_strips(scene):
        if strip.type == "GAUSSIAN_BLUR":
            put(strip, "size_x", strip.size_x * factor)
            put(strip, "size_y", strip.size_y * factor)
        elif strip.type == "SCENE" and strip.scene is not None and strip.scene.name not in seen:
            inner = strip.scene
            put(inner.render, "resolution_percentage", max(1, round(inner.render.resolution_percentage * factor)))
            _scale_pixel_sizes(inner, factor, put, seen)


@contextmanager
def pixel_sizes_scaled(scene: Any, factor: float) -> Iterator[None]:
    """`_scale_pixel_sizes` for the duration of the block; every value is put back on the way out."""
    changed: list[tuple[Any, str, Any]] = []

    def put(struct: Any, name: str, value: Any) -> None:
        changed.append((struct, name, getattr(struct, name)))
        setattr(struct, name, value)

    try:
        if factor != 1.0:
            _scale_pixel_sizes(scene, factor, put, set())
        yield
    finally:
        for struct, name, value in reversed(changed):
            setattr(struct, name, value)


def _configure(scene: Any, frames: FrameRange, stem: str, size: RenderSize) -> None:
    r = scene.render
    scene.frame_start, scene.frame_end, scene.frame_step = frames.start, frames.end - 1, 1
    r.resolution_x, r.resolution_y = size.resolution  # the canvas stays: scaled, not cropped
    r.resolution_percentage = size.percentage
    r.use_sequencer = True
    r.use_compositing = False
    r.use_border = False  # a border would crop what the model sees
    r.use_stamp = False  # burnt-in metadata is not part of the picture
    r.use_multiview = False
    r.use_file_extension, r.use_overwrite, r.use_placeholder = True, True, False
    r.filepath = stem
    compat.set_video_output(r.image_settings)
    r.image_settings.color_mode = "RGB"
    f = r.ffmpeg
    f.format, f.codec, f.audio_codec = "MPEG4", "H264", "NONE"
    f.constant_rate_factor, f.ffmpeg_preset = "HIGH", "REALTIME"
    f.gopsize = 12  # short GOPs: the daemon seeks by time
    f.use_max_b_frames = False


def render_range(scene: Any, frames: FrameRange, folder: str, height: int = 384) -> str:
    """Render `frames` of the scene's sequencer to an MP4 in `folder`; returns its path.

    Blocks while Blender renders (the clip is small and silent, so it is quick); every render
    setting it changes is restored before it returns or raises.
    """
    if frames.frames < 1:
        raise RenderError("the range is empty")
    if frames.start < 0:  # Blender renders from frame 0: the clip would start late and run short
        raise RenderError(f"The range starts at frame {frames.start}, and Blender renders from frame 0 only: "
                          "move the strips to frame 0 or later.")
    pictures = [st for st in compat.strips(scene) if not compat.is_sound(st) and overlaps(st, frames)]
    if not pictures and scene.camera is None:  # Blender would refuse: "no camera"
        raise RenderError(f"Frames {frames.start}-{frames.end - 1} show no picture: select strips with "
                          "picture, or use Generate from Prompt.")
    stem = os.path.join(folder, "range_")
    size = render_size(scene, height)
    with settings_restored(scene), pixel_sizes_scaled(scene, size.percentage / 100):
        _configure(scene, frames, stem, size)
        path = scene.render.frame_path(frame=frames.start)
        try:
            bpy.ops.render.render(animation=True, scene=scene.name)
        except RuntimeError as exc:
            raise RenderError(f"rendering frames {frames.start}-{frames.end - 1} failed: {exc}") from None
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise RenderError(f"rendering frames {frames.start}-{frames.end - 1} wrote no video")
    return path
