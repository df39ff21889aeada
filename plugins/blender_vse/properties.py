"""The panel's settings and status: one PropertyGroup, stored on the scene as `scene.mfmjt`."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty


class MFMJT_SceneSettings(bpy.types.PropertyGroup):
    prompt: StringProperty(name="Prompt", description="What the audio should sound like")
    negative_prompt: StringProperty(name="Negative", description="What it should not sound like")
    seed: IntProperty(name="Seed", default=0, min=0, max=2**31 - 17,
                      description="Seed of the first take; the takes after it use the next seeds")
    lock_seed: BoolProperty(name="Lock seed", default=False,
                            description="Keep the seed (same prompt and range, same audio); unlocked, each "
                                        "press draws a new one")
    steps: IntProperty(name="Steps", default=1, min=1, max=1000, soft_max=32,
                       description="Sampling steps (the one-step model needs 1)")
    guidance: FloatProperty(name="Guidance", default=0.0, min=0.0, max=100.0, soft_max=10.0,
                            description="How strongly to follow the prompt; 0 uses the model's default")
    variations: IntProperty(name="Takes", default=1, min=1, max=16,
                            description="Number of variations, each on its own channel")
    stereo: BoolProperty(name="Stereo", default=False, description="Two channels instead of one")
    duration: FloatProperty(name="Duration", default=4.0, min=0.1, max=600.0, unit="TIME_ABSOLUTE",
                            description="Length of text-to-audio placed at the playhead")
    # Written by the add-on, shown by the panel.
    status: StringProperty(name="Status", default="")
    daemon_status: StringProperty(name="Daemon", default="Not checked yet")
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    last_result: StringProperty(name="Last result", default="")
    last_timings: StringProperty(name="Timings", default="")
