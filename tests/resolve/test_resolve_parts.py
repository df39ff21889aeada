"""The pieces: frame rates, marks, the hasattr trap, video-track check, the bridge's records,
the installer's folders and its uninstall."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from fake_resolve import Project, Resolve, _write_audio_only_mp4, timeline_2997, timeline_23976


@pytest.mark.parametrize("text, rate", [
    ("23.976", Fraction(24000, 1001)), ("29.97", Fraction(30000, 1001)), ("59.94 DF", Fraction(60000, 1001)),
    ("24", Fraction(24)), ("25", Fraction(25)), ("47.952", Fraction(48000, 1001)), ("119.88", Fraction(120000, 1001)),
])
def test_frame_rates_are_exact(installed, text, rate):
    from mfmjt_resolve.resolve_compat import parse_frame_rate

    assert parse_frame_rate(text) == rate


def test_marks_are_relative_and_the_range_absolute(installed):
    from mfmjt_resolve.sound_for_range import read_range

    timeline = timeline_2997()
    timeline.SetMarkInOut(15, 44, "video")
    rng = read_range(timeline)
    assert (rng.record_in, rng.record_out, rng.frames) == (108015, 108044, 30)
    assert rng.seconds == pytest.approx(30 * 1001 / 30000)
    timeline.marks = {"audio": {"in": 3, "out": 4}}  # audio marks only
    assert read_range(timeline).record_in == 108003


def test_capabilities_come_from_dir_not_hasattr(installed):
    from mfmjt_resolve.resolve_compat import ResolveScriptError, has_method, mark_range

    timeline = timeline_23976()
    assert hasattr(timeline, "NoSuchMethod")  # the bridge fabricates attributes...
    assert not has_method(timeline, "NoSuchMethod")  # ...dir() does not
    assert has_method(timeline, "GetMarkInOut")

    class Resolve18Timeline:  # before 19.1 there is no GetMarkInOut
        def __getattr__(self, name):
            return lambda *a: None

    with pytest.raises(ResolveScriptError, match="19.1"):
        mark_range(Resolve18Timeline())


def test_video_track_check_catches_an_audio_only_render(installed, tmp_path):
    from mfmjt_resolve.resolve_compat import has_video_track

    from mfmjt_core.media import write_video

    audio_only = tmp_path / "audio.mp4"
    _write_audio_only_mp4(audio_only, Fraction(1))
    video = write_video(tmp_path / "video.mp4", np.zeros((4, 16, 16, 3), np.uint8), Fraction(24))
    assert not has_video_track(audio_only) and has_video_track(video)
    assert not has_video_track(tmp_path / "missing.mp4")


def test_audio_only_preset_trap_is_real_in_the_fake():
    """Without pinning a video preset, ExportVideo=True is ignored (what the script avoids)."""
    project = Project(Resolve(timeline_23976()), timeline_23976())
    project.SetRenderSettings({"ExportVideo": True})
    assert project.state["ExportVideo"] is False
    project.LoadRenderPreset("H.264 Master")
    project.SetRenderSettings({"ExportVideo": True})
    assert project.state["ExportVideo"] is True


def test_bridge_records_parse_on_the_plugin_side(installed, daemon_address, tmp_path):
    from mfmjt_resolve.transport import parse_bridge_line

    from mfmjt_core.media import write_video

    clip = write_video(tmp_path / "r.mp4", np.zeros((25, 32, 32, 3), np.uint8), Fraction(25))
    out = tmp_path / "out.wav"
    proc = subprocess.run([sys.executable, "-m", "mfmjt_cli", "resolve-bridge", str(clip), "--out", str(out),
                           "--address", daemon_address, "--seed", "3", "--prompt", "tab\there"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = [parse_bridge_line(line) for line in proc.stdout.splitlines()]
    assert all(r is not None for r in records)
    assert {r[0] for r in records[:-1]} == {"progress"}
    kind, (path, seed, samples, rate) = records[-1]
    assert (kind, Path(path), seed, samples, rate) == ("result", out.resolve(), "3", "48000", "48000")
    assert parse_bridge_line("WARNING something") is None

    missing = subprocess.run([sys.executable, "-m", "mfmjt_cli", "resolve-bridge", str(tmp_path / "nope.mp4")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 3
    assert parse_bridge_line(missing.stdout) == ("error", ("bad_media", f"{tmp_path / 'nope.mp4'} is not a file"))


def test_default_script_folders_per_os():
    from mfmjt_resolve.installer import default_scripts_dir

    env = {"HOME": "/home/ed", "APPDATA": r"C:\Users\ed\AppData\Roaming"}
    assert default_scripts_dir("linux", env) == Path("/home/ed/.local/share/DaVinciResolve/Fusion/Scripts/Edit")
    assert default_scripts_dir("darwin", env) == Path(
        "/home/ed/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit")
    assert default_scripts_dir("win32", env).parts[-6:] == (
        "Blackmagic Design", "DaVinci Resolve", "Support", "Fusion", "Scripts", "Edit")


def test_install_fills_templates_and_uninstall_removes_them(tmp_path, daemon_address):
    from mfmjt_cli.entry import main

    scripts, lib, audio = tmp_path / "Edit", tmp_path / "lib", tmp_path / "audio"
    args = ["install-resolve", "--scripts-dir", str(scripts), "--lib-dir", str(lib), "--audio-dir", str(audio)]
    assert main(args + ["--address", daemon_address]) == 0
    python_script = (scripts / "MF-MJT Sound.py").read_text()
    assert f"LIB_DIR = {str(lib)!r}" in python_script and "@MFMJT" not in python_script
    lua_script = (scripts / "MF-MJT Sound (Lua).lua").read_text()
    assert "@MFMJT" not in lua_script and f"[==[{lib / 'resolve.json'}]==]" in lua_script
    selftest = (scripts / "MF-MJT Self-test.py").read_text()
    assert f"LIB_DIR = {str(lib)!r}" in selftest and "mfmjt_resolve.selftest" in selftest
    selftest_lua = (scripts / "MF-MJT Self-test (Lua).lua").read_text()
    assert "@MFMJT" not in selftest_lua and f"[==[{lib / 'renders'}]==]" in selftest_lua
    assert sorted(p.name for p in (lib / "mfmjt_client").iterdir()) == [
        "__init__.py", "client.py", "events.py", "job_state.py", "mfmjt_schema", "protocol.py", "wav.py"]
    settings = json.loads((lib / "resolve.json").read_text())
    assert settings["address"] == daemon_address and settings["bridge_command"][-1] == "resolve-bridge"
    # only the modules that run inside Resolve are copied: not the installer, the bridge or the
    # external self-test runner, which run in mfmjt's own Python
    assert sorted(p.name for p in (lib / "mfmjt_resolve").iterdir()) == [
        "__init__.py", "placement.py", "render.py", "resolve_compat.py", "selftest.py", "sound_for_range.py",
        "transport.py"]
    # every copied module imports with the standard library + pyzmq only (no mfmjt_core, no
    # installed mfmjt package), the request schema from its own copy
    code = ("import importlib, pathlib, sys; sys.path.insert(0, sys.argv[1]); "
            "[importlib.import_module(f'{p.parent.name}.{p.stem}'.replace('.__init__', '')) "
            " for p in sorted(pathlib.Path(sys.argv[1]).glob('mfmjt_*/*.py'))]; "
            "import mfmjt_client.protocol; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mfmjt_core', 'mfmjt_cli', 'mfmjt_daemon', "
            "'mfmjt_schema', 'torch', 'numpy', 'platformdirs')), mfmjt_client.protocol.schema.__name__)")
    probe = subprocess.run([sys.executable, "-c", code, str(lib)], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "[] mfmjt_client.mfmjt_schema", probe.stderr
    # a user's edit of the settings survives a re-install
    settings["prompt"] = "wind"
    (lib / "resolve.json").write_text(json.dumps(settings))
    assert main(args) == 0
    assert json.loads((lib / "resolve.json").read_text())["prompt"] == "wind"
    (audio / "kept.wav").parent.mkdir(parents=True, exist_ok=True)
    (audio / "kept.wav").write_bytes(b"RIFF")
    assert main(args + ["--uninstall"]) == 0
    assert not any(scripts.iterdir()) and not lib.exists() and (audio / "kept.wav").exists()
