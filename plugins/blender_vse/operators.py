"""Thin operators over the plain functions in `generate`, `jobs` and `daemon_link`."""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, daemon_link, generate, jobs
from .preferences import daemon_config


def _report_status(op: Any, scene: Any, ok: bool) -> set[str]:
    # A warning, not an error: the status line explains; scripts calling the operator get
    # {'CANCELLED'} instead of an exception.
    op.report({"INFO"} if ok else {"WARNING"}, scene.mfmjt.status)
    return {"FINISHED"} if ok else {"CANCELLED"}


class SEQUENCER_OT_mfmjt_generate_selection(bpy.types.Operator):
    """Generate audio for the selected strips (or the preview range, or the scene range)"""

    bl_idname = "sequencer.mfmjt_generate_selection"
    bl_label = "Generate for Selection"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return compat.sequencer_scene(context) is not None

    def execute(self, context: Any) -> set[str]:
        scene = compat.sequencer_scene(context)
        return _report_status(self, scene, generate.for_selection(scene, daemon_config(context), __package__))


class SEQUENCER_OT_mfmjt_generate_prompt(bpy.types.Operator):
    """Generate audio from the prompt alone, at the playhead, for the chosen duration"""

    bl_idname = "sequencer.mfmjt_generate_prompt"
    bl_label = "Generate from Prompt"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return compat.sequencer_scene(context) is not None

    def execute(self, context: Any) -> set[str]:
        scene = compat.sequencer_scene(context)
        return _report_status(self, scene, generate.from_prompt(scene, daemon_config(context), __package__))


class SEQUENCER_OT_mfmjt_cancel(bpy.types.Operator):
    """Cancel this scene's generation"""

    bl_idname = "sequencer.mfmjt_cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        scene = compat.sequencer_scene(context)
        return scene is not None and bool(jobs.pending_for(scene))

    def execute(self, context: Any) -> set[str]:
        jobs.cancel(compat.sequencer_scene(context))
        return {"FINISHED"}


class SEQUENCER_OT_mfmjt_check_daemon(bpy.types.Operator):
    """Ask the daemon what it runs (answered in the background)"""

    bl_idname = "sequencer.mfmjt_check_daemon"
    bl_label = "Check Daemon"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return compat.sequencer_scene(context) is not None

    def execute(self, context: Any) -> set[str]:
        scene = compat.sequencer_scene(context)
        scene.mfmjt.daemon_status = "Checking..."
        daemon_link.check_in_background(daemon_config(context), scene.name)
        jobs.ensure_timer()
        return {"FINISHED"}


CLASSES = (SEQUENCER_OT_mfmjt_generate_selection, SEQUENCER_OT_mfmjt_generate_prompt,
           SEQUENCER_OT_mfmjt_cancel, SEQUENCER_OT_mfmjt_check_daemon)
