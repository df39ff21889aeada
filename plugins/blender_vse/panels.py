"""The sequencer sidebar tab. Drawing only: every action is an operator."""

from __future__ import annotations

import textwrap
from typing import Any

import bpy

from . import compat, jobs, timeline

CHAR_PX = 7.0  # a label character's mean width at UI scale 1 (Blender's default font)


def wrap_to_sidebar(text: str, context: Any) -> list[str]:
    """`text` as lines that fit the sidebar's width: Blender's labels clip, they never wrap, and a
    status must be read whole. Words are never split (joined with spaces they give the text)."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) or 300  # no region when drawn outside a window (tests)
    scale = getattr(getattr(getattr(context, "preferences", None), "system", None), "ui_scale", 1.0) or 1.0
    chars = max(16, int(width / (CHAR_PX * scale)) - 6)  # less the icon and the margins
    return textwrap.wrap(text, chars, break_long_words=False, break_on_hyphens=False) or [""]


def _labels(layout: Any, text: str, context: Any, icon: str) -> None:
    column = layout.column(align=True)
    for i, line in enumerate(wrap_to_sidebar(text, context)):
        column.label(text=line, icon=icon if i == 0 else "BLANK1")


class SEQUENCER_PT_mfmjt(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "MF-MJT"
    bl_label = "MF-MJT Sound"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return compat.sequencer_scene(context) is not None

    def draw(self, context: Any) -> None:
        scene = compat.sequencer_scene(context)
        settings = scene.mfmjt
        layout = self.layout
        running = bool(jobs.pending_for(scene))

        row = layout.row(align=True)
        row.label(text=settings.daemon_status, icon="LINKED")
        row.operator("sequencer.mfmjt_check_daemon", text="", icon="FILE_REFRESH")

        col = layout.column()
        col.prop(settings, "prompt")
        col.prop(settings, "negative_prompt")
        row = col.row(align=True)
        row.prop(settings, "seed")
        row.prop(settings, "lock_seed", text="", icon="LOCKED" if settings.lock_seed else "UNLOCKED")
        row = col.row(align=True)
        row.prop(settings, "steps")
        row.prop(settings, "guidance")
        row = col.row(align=True)
        row.prop(settings, "rescale", text="")
        row.prop(settings, "temperature")
        row = col.row(align=True)
        row.prop(settings, "variations")
        row.prop(settings, "stereo", toggle=True)
        col.prop(settings, "loudness")

        frames = timeline.generation_range(scene)
        col = layout.column()
        col.enabled = not running
        col.operator("sequencer.mfmjt_generate_selection", icon="PLAY_SOUND",
                     text=f"Generate for {frames.source} ({frames.start}-{frames.end - 1})")
        row = col.row(align=True)
        row.prop(settings, "duration")
        row.operator("sequencer.mfmjt_generate_prompt", text="From Prompt", icon="OUTLINER_OB_SPEAKER")

        if running:
            layout.progress(factor=settings.progress, type="BAR", text=f"{settings.progress:.0%}")
            _labels(layout, settings.status, context, "TIME")
            layout.operator("sequencer.mfmjt_cancel", icon="CANCEL")
        elif settings.status:
            _labels(layout, settings.status, context, "INFO")

        if settings.last_result:
            box = layout.box()
            box.label(text=settings.last_result)
            box.label(text=settings.last_timings)


CLASSES = (SEQUENCER_PT_mfmjt,)
