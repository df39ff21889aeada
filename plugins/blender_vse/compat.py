"""The one place that knows Blender's API eras; every other module calls these helpers.

Eras (measured on the PyPI bpy wheels, see shared/research/ecosystem.md section 1.2):
- 4.2-4.3: `SequenceEditor.sequences` / `sequences_all`, types `Sequence`, `SoundSequence`.
- 4.4-4.5: types renamed to `Strip`; both `sequences*` and `strips*` collections exist.
- 5.0: `sequences*` removed; video output needs `image_settings.media_type = 'VIDEO'` before
  `file_format = 'FFMPEG'`; the sequencer shows `context.sequencer_scene` (None in headless bpy).
- 5.1+: `left_handle` / `right_handle` join (and later replace) `frame_final_start/end`.
"""

from __future__ import annotations

from typing import Any

import bpy

SOUND = "SOUND"


def sequencer_scene(context: Any) -> Any:
    """The scene the sequencer edits: 5.0's workspace scene, else the window's scene."""
    scene = getattr(context, "sequencer_scene", None)
    if scene is None:
        workspace = getattr(context, "workspace", None)
        scene = getattr(workspace, "sequencer_scene", None)
    return scene or context.scene


def editor(scene: Any, create: bool = False) -> Any:
    """The scene's SequenceEditor (None when it has none and `create` is false)."""
    if scene.sequence_editor is None and create:
        scene.sequence_editor_create()
    return scene.sequence_editor


def _shown(ed: Any) -> Any:
    """The strip collection the timeline shows and edits: the top level, or the meta strip the
    user went into (Tab), whose strips keep the timeline's frames."""
    if ed.meta_stack:
        meta = ed.meta_stack[-1]
        return meta.strips if hasattr(meta, "strips") else meta.sequences
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def strips(scene: Any) -> list[Any]:
    """The strips the timeline shows: the top level's, or those of the meta strip being edited
    (not the strips nested further inside meta strips)."""
    ed = editor(scene)
    if ed is None:
        return []
    return list(_shown(ed))


def all_strips(scene: Any) -> list[Any]:
    """Every strip of the scene, those inside meta strips included."""
    ed = editor(scene)
    if ed is None:
        return []
    return list(ed.strips_all if hasattr(ed, "strips_all") else ed.sequences_all)


def span(strip: Any) -> tuple[int, int]:
    """The frames a strip covers on the timeline, [start, end) after trimming."""
    if hasattr(strip, "left_handle"):  # 5.1+: the frame_final_* names are deprecated there
        return int(strip.left_handle), int(strip.right_handle)
    return int(strip.frame_final_start), int(strip.frame_final_end)


def set_end(strip: Any, frame: int) -> None:
    """Move a strip's right handle to `frame` (exclusive end)."""
    if hasattr(strip, "right_handle"):
        strip.right_handle = frame
    else:
        strip.frame_final_end = frame


def is_sound(strip: Any) -> bool:
    return strip.type == SOUND


def new_sound(scene: Any, name: str, filepath: str, channel: int, frame_start: int) -> Any:
    """Add a sound strip where the timeline shows strips (inside a meta strip being edited, there);
    `filepath` may be blend-relative, `//...`."""
    ed = editor(scene, create=True)
    return _shown(ed).new_sound(name=name, filepath=filepath, channel=channel, frame_start=frame_start)


def set_video_output(image_settings: Any) -> None:
    """Switch the output to a movie file; 5.0 hides FFMPEG until media_type is VIDEO."""
    if hasattr(image_settings, "media_type"):
        image_settings.media_type = "VIDEO"
    image_settings.file_format = "FFMPEG"


def has_audio() -> bool:
    """False for builds without Audaspace (the 4.2 pip wheel): sound strips cannot be made."""
    return bool(getattr(bpy.app.build_options, "audaspace", True))


def online_access() -> bool:
    """Blender's "Allow Online Access" (always true before 4.2 had the setting)."""
    return bool(getattr(bpy.app, "online_access", True))


def extension_user_dir(package: str, sub: str) -> str:
    """A writable folder for this extension; the user data folder when loaded as a plain add-on."""
    try:
        return bpy.utils.extension_path_user(package, path=sub, create=True)
    except (AttributeError, ValueError):  # not installed as an extension (a dev checkout, tests)
        return bpy.utils.user_resource("DATAFILES", path=f"{package.rsplit('.', 1)[-1]}/{sub}", create=True)
