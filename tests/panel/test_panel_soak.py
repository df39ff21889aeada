"""A long session with the panel against a real daemon: 200 rounds of scrub / generate / play /
export / cancel, driven by real input events (pytest-qt), offscreen and under Xvfb. The panel
once aborted after about six jobs (a PySide6 build that leaked None's references while waveforms
were drawn a line per pixel column); this is the session that found it."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import time

import pytest
from daemon_process import free_port
from panel_testing import ROOT
from PySide6.QtCore import QPoint, Qt

CYCLES = int(os.environ.get("MFMJT_SOAK_CYCLES", "200"))


def _wait_job_end(qtbot, window, timeout_ms=30_000):
    qtbot.waitUntil(lambda: window.job is None, timeout=timeout_ms)


def test_soak_generate_play_scrub_export_cancel(panel, qtbot, clip, tmp_path):
    window = panel
    assert window.open_video(clip)
    qtbot.waitUntil(lambda: len(window.strip.thumbs) == 12, timeout=10_000)
    window.form.steps.setValue(1)
    window.form.variations.setValue(2)
    window.activateWindow()  # on a real X server shortcuts reach only the active window
    window.raise_()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    gc.collect()  # earlier tests' garbage, freed during the soak, would lower None's count too
    none_refs = sys.getrefcount(None)
    counts = {"generated": 0, "cancelled": 0, "played": 0, "exported": 0}
    started = time.monotonic()
    for cycle in range(CYCLES):
        # scrub: a click somewhere on the strip, a few frames with the arrow keys, In and Out
        x = 10 + (cycle * 37) % max(1, window.strip.width() - 20)
        qtbot.mouseClick(window.strip, Qt.MouseButton.LeftButton, pos=QPoint(x, 30))
        window.setFocus()
        qtbot.keyClick(window, Qt.Key.Key_I)
        assert window.mark_in == window.position  # the key reached the panel
        for _ in range(6 + cycle % 5):
            qtbot.keyClick(window, Qt.Key.Key_Right)
        qtbot.keyClick(window, Qt.Key.Key_O)
        assert window.mark_out is not None and window.mark_out > window.mark_in
        cancel = cycle % 5 == 4  # every fifth job: a slow one, cancelled once it runs
        window.form.steps.setValue(200 if cancel else 1)
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
        if cancel:
            qtbot.waitUntil(lambda: window.phase in ("encoding", "sampling", "decoding", "done"), timeout=30_000)
            qtbot.keyClick(window, Qt.Key.Key_Escape)
            _wait_job_end(qtbot, window)
            assert window.phase in ("cancelled", "done"), window.stage_label.text()
            counts["cancelled"] += window.phase == "cancelled"
            continue
        _wait_job_end(qtbot, window)
        assert window.phase == "done" and window.stage_label.text().startswith("done: 2 x "), \
            window.stage_label.text()
        counts["generated"] += 1
        # pick a take with the mouse, play it for a moment with Space, stop it with Space
        take = window.takes.views[cycle % 2]
        qtbot.mouseClick(take, Qt.MouseButton.LeftButton, pos=take.rect().center())
        qtbot.keyClick(window, Qt.Key.Key_Space)
        qtbot.wait(30)
        if window.playback.playing:
            qtbot.keyClick(window, Qt.Key.Key_Space)
        counts["played"] += 1
        if cycle % 10 == 0:
            assert window.export_wav(tmp_path / f"take{cycle}.wav").is_file()
            counts["exported"] += 1
    took = time.monotonic() - started
    print(f"\nsoak ({os.environ.get('QT_QPA_PLATFORM')}): {CYCLES} cycles in {took:.1f} s: {counts}")
    assert counts["cancelled"] >= CYCLES // 5 - 2, counts  # a cancel may lose the race
    assert counts["generated"] >= CYCLES * 0.75 and counts["exported"] >= CYCLES // 10 - 1
    if sys.version_info < (3, 12):  # the leak the panel died of: None's count must not drain
        assert sys.getrefcount(None) > none_refs - 5_000, (none_refs, sys.getrefcount(None))


def _xvfb_display():
    """An Xvfb server on a free display number, or None when Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        return None, None
    for number in range(90 + free_port() % 50, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(f"/tmp/.X{number}-lock"):
            server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    break
                time.sleep(0.05)
            else:
                return server, f":{number}"
    return None, None


def test_soak_under_xvfb():
    """The same session on a real X server (xcb), in a child pytest: this process's Qt is offscreen."""
    server, display = _xvfb_display()
    if server is None:
        pytest.skip("Xvfb is not installed (`make xvfb` installs it and the libraries Qt's xcb plugin needs)")
    try:
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                               f"{__file__}::test_soak_generate_play_scrub_export_cancel"],
                              check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        tail = (done.stdout + done.stderr)[-4000:]
        assert done.returncode == 0, tail
        assert "soak (xcb): " in done.stdout, tail
        print("\n" + next(line for line in done.stdout.splitlines() if line.startswith("soak (xcb)")))
    finally:
        server.terminate()
        server.wait(10)
