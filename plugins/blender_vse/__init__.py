"""MF-MJT for Blender's Video Sequence Editor: AI sound for the selected strips in one click.

This file only registers; see operators.py, panels.py, generate.py and jobs.py.
"""

from __future__ import annotations

import bpy

from . import jobs, operators, panels, preferences, properties

_CLASSES = (preferences.MFMJT_Preferences, properties.MFMJT_SceneSettings, *operators.CLASSES, *panels.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mfmjt = bpy.props.PointerProperty(type=properties.MFMJT_SceneSettings)


def unregister() -> None:
    jobs.forget_all()
    del bpy.types.Scene.mfmjt
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
