"""A daemon that demands CURVE keys: the preferences' key files get the extension in, and a key
the daemon never authorised gets a clear refusal in the panel."""

from __future__ import annotations

import pytest
from blender_testing import DaemonProcess, import_bpy, run_main, sound_strips, wait_for_jobs

bpy = import_bpy()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    run_main("keys", "--dir", str(folder), "init")
    run_main("keys", "--dir", str(folder), "client", "blender")
    stranger = tmp_path_factory.mktemp("stranger")
    run_main("keys", "--dir", str(stranger), "init")
    run_main("keys", "--dir", str(stranger), "client", "nobody")  # authorised there, not here
    return {"server": folder / "server.key", "client": folder / "clients" / "blender.key_secret",
            "stranger": stranger / "clients" / "nobody.key_secret"}


@pytest.fixture(scope="module")
def curve_daemon(keys, tmp_path_factory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("curve") / "daemon.log", "--keys", str(keys["server"].parent))
    yield daemon.wait_ready()
    daemon.stop()


def test_authorised_keys_get_audio(extension, prefs, scene, keys, curve_daemon):
    prefs.address, prefs.server_key, prefs.client_key = curve_daemon, str(keys["server"]), str(keys["client"])
    try:
        scene.mfmjt.prompt, scene.mfmjt.duration = "gate creak", 0.5
        assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
        wait_for_jobs(extension, scene)
        assert scene.mfmjt.status.startswith("Done: 1 take(s)"), scene.mfmjt.status
        assert len(sound_strips(scene)) == 1
    finally:
        prefs.server_key = prefs.client_key = ""


def test_unauthorised_key_is_refused_clearly(extension, prefs, scene, keys, curve_daemon):
    prefs.address, prefs.server_key, prefs.client_key = curve_daemon, str(keys["server"]), str(keys["stranger"])
    try:
        scene.mfmjt.prompt, scene.mfmjt.duration = "gate creak", 0.5
        assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
        wait_for_jobs(extension, scene)
        assert scene.mfmjt.status.startswith(f"Failed: the daemon at {curve_daemon} refused the CURVE handshake")
        assert sound_strips(scene) == []
    finally:
        prefs.server_key = prefs.client_key = ""


def test_missing_client_key_is_reported(extension, prefs, scene, keys, curve_daemon):
    prefs.address, prefs.server_key, prefs.client_key = curve_daemon, str(keys["server"]), ""
    try:
        scene.mfmjt.prompt = "gate creak"
        assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"CANCELLED"}
        assert scene.mfmjt.status.startswith("Cannot use the CURVE keys: CURVE needs client_key")
    finally:
        prefs.server_key = ""
