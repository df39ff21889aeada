"""The panel's settings and status: one PropertyGroup, stored on the scene as `scene.mfmjt`.

Bounds and defaults of the request fields come from the request schema (vendored with the client),
so the panel offers exactly what the daemon accepts.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

try:
    from .vendor.mfmjt_client import mfmjt_schema as schema
except ImportError:  # a development checkout without `build.py --vendor`, on a Python that has mfmjt
    import mfmjt_schema as schema


def _bounds(name: str, **widget) -> dict:
    """min/max of a request field (and its default when it has one), then the widget's own settings."""
    spec = schema.field(name)
    out = {"min": spec.low, "max": spec.high}
    if spec.default is not None:
        out["default"] = spec.default
    return {**out, **widget}


class MFMJT_SceneSettings(bpy.types.PropertyGroup):
    prompt: StringProperty(name="Prompt", description="What the audio should sound like",
                           maxlen=schema.MAX_TEXT)
    negative_prompt: StringProperty(name="Negative", description="What it should not sound like",
                                    maxlen=schema.MAX_TEXT)
    # A 32-bit property (Blender's IntProperty), below the schema's 2**63 - 1: takes use seed .. seed + 15
    seed: IntProperty(name="Seed", default=0, min=0, max=2**31 - 17,
                      description="Seed of the first take; the takes after it use the next seeds")
    lock_seed: BoolProperty(name="Lock seed", default=False,
                            description="Keep the seed (same prompt and range, same audio); unlocked, each "
                                        "press draws a new one")
    steps: IntProperty(name="Steps", **_bounds("steps", default=1, soft_max=32),
                       description="Sampling steps (the one-step model needs 1)")
    guidance: FloatProperty(name="Guidance", **_bounds("guidance", default=0.0, soft_max=10.0),
                            description="How strongly to follow the prompt; 0 uses the model's default")
    rescale: EnumProperty(
        name="Guidance mode", description=schema.field("rescale").help,
        items=[("DEFAULT", "Model default", "The mode the model was made for"),
               *((mode, mode.replace("_", " ").capitalize(), f"Guidance rescaled with {mode}")
                 for mode in schema.RESCALE_MODES)],
        default="DEFAULT")
    temperature: FloatProperty(name="Temperature", **_bounds("temperature", default=0.0),
                               description="Scale of the starting noise: lower is safer and less varied; "
                                           "0 uses the model's default")
    variations: IntProperty(name="Takes", **_bounds("variations"),
                            description="Number of variations, each on its own channel")
    stereo: BoolProperty(name="Stereo", default=False, description="Two channels instead of one")
    duration: FloatProperty(name="Duration", **_bounds("duration", default=4.0, soft_min=0.1, soft_max=600.0),
                            unit="TIME_ABSOLUTE", description="Length of text-to-audio placed at the playhead")
    loudness: FloatProperty(name="Loudness", **_bounds("loudness", default=-70.0, soft_min=-40.0, soft_max=-6.0),
                            description="Integrated loudness in LUFS to normalise each take to (e.g. -23); "
                                        "-70 leaves it as generated. Peaks stay under -1 dBTP either way")
    # Written by the add-on, shown by the panel.
    status: StringProperty(name="Status", default="")
    daemon_status: StringProperty(name="Daemon", default="Not checked yet")
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    last_result: StringProperty(name="Last result", default="")
    last_timings: StringProperty(name="Timings", default="")
