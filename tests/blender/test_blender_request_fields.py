"""The add-on's request fields take their bounds from the request schema vendored with its client,
and the loudness setting reaches the daemon and comes back measured."""

from __future__ import annotations

import importlib

from blender_testing import import_bpy, sound_strips, wait_for_jobs

bpy = import_bpy()


def _schema(extension):
    return importlib.import_module(f"{extension.__name__}.vendor.mfmjt_client.mfmjt_schema")


def test_panel_bounds_are_the_schema_bounds(extension, scene):
    schema = _schema(extension)
    props = scene.mfmjt.bl_rna.properties
    for name in ("steps", "variations", "guidance", "temperature", "duration", "loudness"):
        spec = schema.field(name)
        # float properties are single precision
        assert abs(props[name].hard_min - spec.low) <= 1e-6 * max(1, abs(spec.low)), name
        assert abs(props[name].hard_max - spec.high) <= 1e-6 * max(1, abs(spec.high)), name
    assert props["variations"].default == schema.field("variations").default
    assert props["prompt"].length_max == schema.MAX_TEXT + 1  # Blender reports it with the NUL
    assert [item.identifier for item in props["rescale"].enum_items] == ["DEFAULT", *schema.RESCALE_MODES]


def test_guidance_mode_and_temperature_reach_the_request_only_when_set(extension, scene):
    settings, config = scene.mfmjt, extension.preferences.DaemonConfig()
    params = extension.generate.request_params(settings, config)
    assert params["rescale"] is None and params["temperature"] is None  # the model's defaults
    settings.rescale, settings.temperature = "zero_star", 0.5
    params = extension.generate.request_params(settings, config)
    assert (params["rescale"], params["temperature"]) == ("zero_star", 0.5)


def test_loudness_reaches_the_daemon_and_the_levels_come_back(extension, prefs, scene):
    scene.frame_current = 1
    settings = scene.mfmjt
    settings.prompt, settings.duration, settings.loudness = "metal ball bouncing", 2.0, -30.0
    # a prompt and seed the embedded model answers audibly: a take under the -70 LUFS gate reads "- LUFS"
    settings.seed, settings.lock_seed = 1234, True
    config = extension.preferences.DaemonConfig()
    assert extension.generate.request_params(settings, config)["loudness"] == -30.0
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
    wait_for_jobs(extension, scene)
    assert sound_strips(scene), settings.status
    # "2.00 s, seed N, model M, -30.0 LUFS, -x.x dBTP": measured on the delivered take
    assert ", -30.0 LUFS, " in settings.last_result and settings.last_result.endswith(" dBTP"), settings.last_result
    settings.loudness = -70.0  # the floor: as generated
    assert extension.generate.request_params(settings, config)["loudness"] is None
