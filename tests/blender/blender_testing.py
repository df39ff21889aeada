"""Helpers for the Blender tests (imported by name; none of them imports bpy at module level)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "blender_vse"
EXTENSION_ID = "mfmjt_vse"
# The daemon and the video writer run in the main venv: bpy pins its own numpy, torch lives there.
MAIN_PYTHON = Path(os.environ.get("MFMJT_MAIN_PYTHON", ROOT / ".venv" / "bin" / "python"))
EMBEDDED_MODEL = ROOT / "mfmjt_core" / "assets" / "mfmjt-tiny-synth.safetensors"
DAEMON_READY_S = 180.0


def import_bpy() -> ModuleType:
    """bpy, or skip the calling module. Blender's user folders go to a temporary directory first
    so the tests never write into ~/.config/blender."""
    if importlib.util.find_spec("bpy") is None:
        pytest.skip("bpy is not installed here (run `make test-blender`)", allow_module_level=True)
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="mfmjt_blender_user_"))
    import bpy

    return bpy


def load_build_module() -> ModuleType:
    """plugins/blender_vse/build.py, imported under a private name."""
    if "mfmjt_vse_build" not in sys.modules:
        spec = importlib.util.spec_from_file_location("mfmjt_vse_build", PLUGIN / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["mfmjt_vse_build"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_scene(name: str):
    """A new 24 fps scene with a sequence editor, made the window's scene."""
    import bpy

    scene = bpy.data.scenes.new(name[:60])
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.sequence_editor_create()
    bpy.context.window_manager.windows[0].scene = scene
    return scene


def strips(scene) -> list:
    ed = scene.sequence_editor
    return list(ed.strips if hasattr(ed, "strips") else ed.sequences)


def add_movie(scene, path: str, channel: int, frame_start: int, select: bool = False):
    ed = scene.sequence_editor
    collection = ed.strips if hasattr(ed, "strips") else ed.sequences
    strip = collection.new_movie(name=Path(path).stem, filepath=path, channel=channel, frame_start=frame_start)
    strip.select = select
    return strip


def add_color(scene, channel: int, start: int, end: int, select: bool = False):
    """A colour strip covering [start, end)."""
    ed = scene.sequence_editor
    collection = ed.strips if hasattr(ed, "strips") else ed.sequences
    where = {"name": "color", "type": "COLOR", "channel": channel, "frame_start": start}
    try:
        strip = collection.new_effect(**where, length=end - start)
    except TypeError:  # before 5.0 the end was given as frame_end
        strip = collection.new_effect(**where, frame_end=end)
    strip.select = select
    return strip


def add_effect(scene, kind: str, channel: int, start: int, end: int, **inputs):
    """An effect strip (TEXT, GAUSSIAN_BLUR, GLOW, ...) covering [start, end)."""
    collection = _collection(scene)
    where = {"name": kind.lower(), "type": kind, "channel": channel, "frame_start": start, **inputs}
    try:
        return collection.new_effect(**where, length=end - start)
    except TypeError:  # before 5.0 the end was given as frame_end
        return collection.new_effect(**where, frame_end=end)


def add_scene_strip(scene, inner, channel: int, start: int):
    """A scene strip showing `inner`'s sequencer."""
    strip = _collection(scene).new_scene(name=inner.name[:60], scene=inner, channel=channel, frame_start=start)
    strip.scene_input = "SEQUENCER"
    return strip


def add_movie_like_menu(scene, path: str, channel: int, frame_start: int):
    """A movie strip added the way Add > Movie adds it: fitted to the scene with the sequencer
    tool settings' fit method (Scale to Fit by default), so small footage gets a scale > 1."""
    fit = scene.tool_settings.sequencer_tool_settings.fit_method
    return _collection(scene).new_movie(name=Path(path).stem, filepath=path, channel=channel,
                                        frame_start=frame_start, fit_method=fit)


def add_movie_with_the_menu(scene, path: str, channel: int, frame_start: int):
    """Run Add > Movie itself (the sequencer's movie_strip_add operator, in a sequencer area made
    for it) with its defaults except "Use Movie Framerate", which would switch the scene to the
    clip's rate: Blender then fits the picture and plays the clip at its own rate (a 24 fps clip
    covers 1.25x its frame count in a 29.97 fps scene), which the Python API cannot do. Works in
    headless 4.5; in headless 5.0 the operator crashes Blender, so callers skip there."""
    import bpy

    window = bpy.context.window_manager.windows[0]
    window.scene = scene
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    was, area.type = area.type, "SEQUENCE_EDITOR"
    try:
        region = next(r for r in area.regions if r.type == "WINDOW")
        before = {s.name for s in strips(scene)}
        with bpy.context.temp_override(window=window, area=area, region=region, scene=scene):
            result = bpy.ops.sequencer.movie_strip_add(filepath=path, channel=channel, frame_start=frame_start,
                                                       sound=False, use_framerate=False)
    finally:
        area.type = was
    assert result == {"FINISHED"}, result
    (strip,) = [s for s in strips(scene) if s.name not in before]
    return strip


def _collection(scene):
    ed = scene.sequence_editor
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def sound_strips(scene) -> list:
    return sorted((s for s in strips(scene) if s.type == "SOUND"), key=lambda s: s.channel)


def span(strip) -> tuple[int, int]:
    """[start, end) on the timeline (5.1 renamed frame_final_start/end to left/right_handle)."""
    if hasattr(strip, "left_handle"):
        return int(strip.left_handle), int(strip.right_handle)
    return int(strip.frame_final_start), int(strip.frame_final_end)


def trim(strip, start: int | None = None, end: int | None = None) -> None:
    """Move a strip's handles to [start, end)."""
    new = hasattr(strip, "left_handle")
    if start is not None:
        setattr(strip, "left_handle" if new else "frame_final_start", start)
    if end is not None:
        setattr(strip, "right_handle" if new else "frame_final_end", end)


def wav_info(path: str) -> tuple[int, int, int]:
    """(frames, rate, channels) of a WAV file."""
    with wave.open(path) as w:
        return w.getnframes(), w.getframerate(), w.getnchannels()


def wait_for_jobs(extension, scene, timeout: float = 30.0) -> None:
    """Call the timer callback (timers never fire without Blender's window loop) until the
    scene's jobs are done."""
    deadline = time.monotonic() + timeout
    while extension.jobs.pending_for(scene):
        if time.monotonic() > deadline:
            pytest.fail(f"jobs still running after {timeout} s; status: {scene.mfmjt.status!r}")
        extension.jobs.tick()
        time.sleep(0.02)
    extension.jobs.tick()


def daemon_command(port: int, *extra: str) -> list[str]:
    """`mfmjt serve` on a loopback port: the embedded model when it exists, else tiny-random."""
    model = [] if EMBEDDED_MODEL.exists() else ["--model", "tiny-random"]
    return [str(MAIN_PYTHON), "-m", "mfmjt_cli", "serve", "--port", str(port), *model, *extra]


def run_main(*args: str) -> str:
    """Run `mfmjt ARGS` in the main venv; returns its output."""
    done = subprocess.run([str(MAIN_PYTHON), "-m", "mfmjt_cli", *args], check=False, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class DaemonProcess:
    """`mfmjt serve` on a free loopback port, started at once, waited for on first use."""

    def __init__(self, log_path: Path, *extra: str) -> None:
        if not MAIN_PYTHON.exists():
            pytest.fail(f"the main venv's python is missing at {MAIN_PYTHON} (run `make setup`)")
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._ready = threading.Event()
        self.process = subprocess.Popen(daemon_command(self.port, *extra), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        with open(self.log_path, "w") as log:
            for line in self.process.stdout:  # "mfmjt serve: ready on ..." once it listens
                log.write(line)
                log.flush()
                if "ready on" in line:
                    self._ready.set()

    def wait_ready(self) -> str:
        deadline = time.monotonic() + DAEMON_READY_S
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the daemon did not start:\n{self.log_path.read_text()[-3000:]}")
        return self.address

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
