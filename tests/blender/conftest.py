"""Fixtures for the Blender extension tests: real headless Blender (the PyPI `bpy` module), a
real daemon subprocess from the main venv, and test videos written by mfmjt_core.media.

`bpy` lives in its own venvs (.venv-bpy45, .venv-bpy50; `make test-blender`); in the main venv
every test module here skips at import. Nothing below imports bpy at module level.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from blender_testing import EXTENSION_ID, MAIN_PYTHON, ROOT, DaemonProcess, daemon_command, load_build_module, new_scene

_EXIT_STATUS = pytest.StashKey[int]()

VIDEO_SCRIPT = """
import sys
from fractions import Fraction
import numpy as np
from mfmjt_core.media import write_video

def frames(count):
    # A white square crossing a dark frame: something moves, so the clip is not static.
    out = np.full((count, 64, 96, 3), 30, dtype=np.uint8)
    for t in range(count):
        x = (t * 3) % 80
        out[t, 24:40, x:x + 16] = 230
    return out

for path, num, den, count in [(sys.argv[1], 24, 1, 48), (sys.argv[2], 30, 1, 60), (sys.argv[3], 30000, 1001, 60)]:
    write_video(path, frames(count), Fraction(num, den))
"""


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """bpy 4.5 at times crashes (SIGSEGV, exit 139) in the interpreter's teardown after every test
    has passed, which would fail `make test` for nothing: leave with pytest's own status first."""
    if "bpy" in sys.modules and _EXIT_STATUS in config.stash:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[_EXIT_STATUS])


@pytest.fixture(scope="session", autouse=True)
def _daemon_process(tmp_path_factory):
    """Started before the first test here, so its model loads while the first tests run (not
    at all where bpy is missing: only the build tests run then)."""
    if importlib.util.find_spec("bpy") is None:
        yield None
        return
    daemon = DaemonProcess(tmp_path_factory.mktemp("daemon") / "daemon.log")
    yield daemon
    daemon.stop()


@pytest.fixture
def daemon(_daemon_process) -> str:
    """The address of a ready daemon (fails fast if something killed it)."""
    address = _daemon_process.wait_ready()
    if _daemon_process.process.poll() is not None:
        pytest.fail(f"the test daemon exited early:\n{_daemon_process.log_path.read_text()[-3000:]}")
    return address


@pytest.fixture(scope="session")
def daemon_command_line():
    """port -> the shell-style command line that starts a daemon there (for the start command)."""
    return lambda port: shlex.join(daemon_command(port))


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict[str, str]:
    """Two-second test clips at 24, 30 and 29.97 fps (96x64 H.264)."""
    folder = tmp_path_factory.mktemp("videos")
    paths = {"24": folder / "clip24.mp4", "30": folder / "clip30.mp4", "2997": folder / "clip2997.mp4"}
    subprocess.run([str(MAIN_PYTHON), "-c", VIDEO_SCRIPT, *map(str, paths.values())], check=True, cwd=ROOT)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="session")
def extensions_dir(tmp_path_factory) -> Path:
    """A folder holding the extension as staged from plugins/blender_vse (with its vendored client)."""
    folder = tmp_path_factory.mktemp("extensions")
    load_build_module().stage(folder / EXTENSION_ID)
    return folder


@pytest.fixture(scope="session")
def extension(extensions_dir):
    """The staged extension, enabled the way Blender enables add-ons, preferences included."""
    import addon_utils
    import bpy

    folder = extensions_dir
    sys.path.insert(0, str(folder))
    module = addon_utils.enable(EXTENSION_ID, default_set=True, handle_error=None)
    assert module is not None and EXTENSION_ID in bpy.context.preferences.addons
    yield module
    addon_utils.disable(EXTENSION_ID, default_set=True)
    sys.path.remove(str(folder))


@pytest.fixture(scope="session")
def blend_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("project") / "edit.blend"


@pytest.fixture
def prefs(extension, daemon):
    """The add-on preferences, pointed at the test daemon (reset after each test)."""
    import bpy

    p = bpy.context.preferences.addons[EXTENSION_ID].preferences
    p.address, p.start_command, p.timeout_s = daemon, "", 10.0
    yield p
    p.address, p.start_command, p.timeout_s = daemon, "", 10.0


@pytest.fixture
def scene(extension, blend_path, request):
    """A fresh 24 fps scene, shown in the window, in a saved blend file (so audio lands in
    `//mfmjt_audio/`). Its jobs are cancelled and the scene removed afterwards."""
    import bpy

    if bpy.data.filepath != str(blend_path):
        bpy.ops.wm.save_as_mainfile(filepath=str(blend_path))
    sc = new_scene(request.node.name)
    yield sc
    extension.jobs.cancel(sc)
    bpy.data.scenes.remove(sc)
