"""What the sidebar tells, in real headless Blender against real daemons: cancelling until the
daemon confirms, a SIGTERM told as "the daemon shut down", a SIGKILL noticed within 5 s, whole
messages in the status bar."""

from __future__ import annotations

import signal
import time

import pytest
from blender_testing import DaemonProcess, import_bpy, sound_strips

bpy = import_bpy()


@pytest.fixture
def own_daemon(tmp_path, prefs):
    """A daemon of this test's own (it gets killed), the preferences pointed at it."""
    daemon = DaemonProcess(tmp_path / "daemon.log")
    prefs.address = daemon.wait_ready()
    yield daemon
    if daemon.process.poll() is None:
        daemon.process.kill()
        daemon.process.wait(10)


def _tick_until(extension, predicate, timeout: float) -> float:
    """Run the timer callback as Blender would (every 0.1 s) until `predicate()`; seconds taken."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s")
        extension.jobs.tick()
        time.sleep(0.05)
    return time.monotonic() - start


def _start_long_job(extension, scene) -> None:
    scene.mfmjt.prompt, scene.mfmjt.duration = "long ambience", 300.0  # dozens of windows
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
    _tick_until(extension, lambda: scene.mfmjt.status.startswith(("Sampling", "Encoding", "Decoding")), 60)


def _status_bar_texts(extension, scene) -> list[str]:
    """What `_refresh_ui` hands the status bar (the headless window has no drawable bar, so the
    text is read where it is made)."""
    seen: list[str] = []
    workspace_type = type(bpy.context.window_manager.windows[0].workspace)
    original = workspace_type.status_text_set
    try:
        workspace_type.status_text_set = lambda self, text: seen.append(text)
    except (AttributeError, TypeError):
        return [f"MF-MJT: {scene.mfmjt.status}"]  # bpy types refuse new attributes: same source
    try:
        extension.jobs._refresh_ui()
    finally:
        workspace_type.status_text_set = original
    return seen


def test_cancelling_stays_until_the_daemon_confirms(extension, prefs, scene):
    _start_long_job(extension, scene)
    assert "%" in scene.mfmjt.status
    assert bpy.ops.sequencer.mfmjt_cancel() == {"FINISHED"}
    assert scene.mfmjt.status == "Cancelling, waiting for the daemon to confirm"
    assert extension.jobs.pending_for(scene)  # still followed: the daemon has not answered
    told = []
    _tick_until(extension, lambda: told.append(scene.mfmjt.status) or not extension.jobs.pending_for(scene), 20)
    assert set(told[:-1]) <= {"Cancelling, waiting for the daemon to confirm"}, told
    assert scene.mfmjt.status == "Cancelled: you cancelled" and sound_strips(scene) == []


def test_sigterm_is_told_as_the_daemon_shut_down(extension, own_daemon, scene):
    _start_long_job(extension, scene)
    own_daemon.process.send_signal(signal.SIGTERM)
    _tick_until(extension, lambda: not extension.jobs.pending_for(scene), 15)
    assert scene.mfmjt.status == ("Failed: the daemon shut down (the daemon is shutting down; "
                                  "submit again later)")
    assert scene.mfmjt.daemon_status == "The daemon shut down"
    assert own_daemon.process.wait(20) == 0


def test_sigkill_is_noticed_within_five_seconds(extension, own_daemon, scene):
    _start_long_job(extension, scene)
    frozen = scene.mfmjt.status
    bar = _status_bar_texts(extension, scene)
    assert bar and bar[-1] == f"MF-MJT: {frozen}"  # the whole line, nothing cut
    own_daemon.process.kill()
    taken = _tick_until(extension, lambda: not extension.jobs.pending_for(scene), 10)
    assert taken < 5.0
    assert scene.mfmjt.status == "Failed: the daemon stopped answering (nothing heard for 4 s)"
    assert scene.mfmjt.daemon_status == "Not answering: nothing heard for 4 s"
    lines = extension.panels.wrap_to_sidebar(scene.mfmjt.status, bpy.context)
    assert len(lines) > 1 and " ".join(lines) == scene.mfmjt.status  # wrapped, not clipped


def test_long_messages_wrap_to_the_sidebar_width(extension):
    from types import SimpleNamespace

    text = ("Failed: bad media (could not decode frame 17 of /media/a folder with a long name/clip.mov: "
            "invalid data found when processing input)")
    for width in (180, 300, 600):
        context = SimpleNamespace(region=SimpleNamespace(width=width), preferences=bpy.context.preferences)
        lines = extension.panels.wrap_to_sidebar(text, context)
        assert " ".join(lines) == text
        longest_word = max(len(w) for w in text.split())
        assert all(len(line) * 7 <= width or len(line) == longest_word for line in lines), lines
