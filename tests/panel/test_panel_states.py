"""The panel tells every job state truthfully, against a real daemon that is cancelled, shut down
(SIGTERM), killed (SIGKILL) and restarted; messages are shown whole. The runs save the
screenshots (idle, generating, takes, an error): in docs/screenshots/ with `make screenshots`."""

from __future__ import annotations

import os
import signal
import time

import pytest
from daemon_process import ServeProcess
from panel_testing import ARTIFACTS, ROOT
from PySide6.QtCore import Qt

# `make screenshots` (MFMJT_SCREENSHOTS=docs) writes the committed ones in docs/screenshots;
# other runs write to the gitignored artifacts folder, so a test run leaves the tree clean.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("MFMJT_SCREENSHOTS") == "docs" else ARTIFACTS


@pytest.fixture
def own_daemon(tmp_path):
    daemon = ServeProcess(tmp_path)
    yield daemon.start()
    if daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait(10)


def _window(qtbot, address):
    from mfmjt_panel.daemon_link import DaemonLink
    from mfmjt_panel.window import PanelWindow

    link = DaemonLink(address, autostart=None)
    with qtbot.waitSignal(link.connected, timeout=20_000):
        window = PanelWindow(link)
    qtbot.addWidget(window)
    window.show()
    return window


def _record(window) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    window.link.job_changed.connect(lambda job, phase, text, fraction: seen.append((phase, text)))
    return seen


def _shows_whole(label) -> bool:
    """The label wraps and is tall enough for its text at its width: nothing is clipped."""
    return label.wordWrap() and label.heightForWidth(label.width()) <= label.height()


def _wait_shows_whole(qtbot, *labels) -> None:
    """Qt lays out after the event that changed the text: a loaded machine may not have yet."""
    qtbot.waitUntil(lambda: all(_shows_whole(label) for label in labels), timeout=3_000)


def _shot(window, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SCREENSHOTS / name))


def _start_long_job(window, qtbot, long_clip, seen):
    window.open_video(long_clip)
    window.form.steps.setValue(20)
    window.form.variations.setValue(1)
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.phase == "sampling", timeout=30_000)


def test_states_in_order_cancelling_holds_until_confirmed(qtbot, daemon_address, long_clip, clip):
    window = _window(qtbot, daemon_address)
    window.open_video(clip)
    qtbot.waitUntil(lambda: len(window.strip.thumbs) == 12, timeout=10_000)
    _shot(window, "panel_idle.png")
    seen = _record(window)
    _start_long_job(window, qtbot, long_clip, seen)
    qtbot.waitUntil(lambda: "left" in window.stage_label.text(), timeout=20_000)
    _shot(window, "panel_generating.png")
    phases = [p for p, _ in seen]
    order = ["queued", "encoding", "sampling", "decoding"]  # encoding may pass unseen (cached features)
    steps = [order.index(p) for p in phases]
    assert phases[0] == "queued" and "sampling" in phases and steps == sorted(steps), phases
    assert window.stage_label.text().startswith("sampling ")
    cut = len(seen)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.phase == "cancelled", timeout=20_000)
    after = [text for _, text in seen[cut:]]
    after = after[after.index("cancelling, waiting for the daemon to confirm"):]
    # Progress kept arriving until the worker stopped; none of it replaced "cancelling".
    told = [t for i, t in enumerate(after) if i == 0 or t != after[i - 1]]
    assert told == ["cancelling, waiting for the daemon to confirm", "cancelled: you cancelled"], after
    assert window.stage_label.text() == "cancelled: you cancelled"
    assert window.generate_button.isEnabled() and window.result is None
    window.close()


def test_shut_down_killed_and_restarted_daemons_are_told_truthfully(qtbot, own_daemon, long_clip, clip):
    daemon = own_daemon
    window = _window(qtbot, daemon.address)
    window.resize(900, 640)  # narrow: long messages must wrap, not be cut off
    seen = _record(window)

    # SIGTERM: the daemon answers its jobs "shutting down", then goes silent.
    _start_long_job(window, qtbot, long_clip, seen)
    daemon.stop(signal.SIGTERM)
    qtbot.waitUntil(lambda: window.phase == "failed", timeout=15_000)
    assert window.stage_label.text() == ("failed: the daemon shut down (the daemon is shutting down; "
                                         "submit again later)")
    qtbot.waitUntil(lambda: "shut down; waiting" in window.daemon_label.text(), timeout=8_000)
    _wait_shows_whole(qtbot, window.stage_label, window.daemon_label)
    _shot(window, "panel_error.png")

    # Back on the same address: the panel hears it without being asked.
    daemon.start()
    qtbot.waitUntil(lambda: "waiting" not in window.daemon_label.text(), timeout=15_000)

    # SIGKILL mid-job: nothing is said; the heartbeat notices within 5 s.
    _start_long_job(window, qtbot, long_clip, seen)
    daemon.proc.kill()
    killed = time.monotonic()
    qtbot.waitUntil(lambda: window.phase == "failed", timeout=10_000)
    assert time.monotonic() - killed < 5.0
    assert window.stage_label.text() == "failed: the daemon stopped answering (nothing heard for 4 s)"
    qtbot.waitUntil(lambda: "stopped answering" in window.daemon_label.text(), timeout=2_000)
    assert window.generate_button.isEnabled()
    _wait_shows_whole(qtbot, window.stage_label)

    # Generate while nothing answers: refused at once, never queued for later.
    window.open_video(clip)
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.phase == "failed", timeout=5_000)
    stale = window.stage_label.text()
    assert stale.startswith("failed: no daemon answers (at tcp://127.0.0.1:")
    assert stale.endswith("start one with `mfmjt serve`)")
    _wait_shows_whole(qtbot, window.stage_label)

    daemon.start()
    qtbot.waitUntil(lambda: "waiting" not in window.daemon_label.text(), timeout=15_000)
    window.form.variations.setValue(2)
    window.form.seed.setText("3")
    with qtbot.waitSignal(window.link.finished, timeout=60_000):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert window.stage_label.text().startswith("done: 2 x ")
    qtbot.wait(1_500)
    assert daemon.log().count("queued at") == 1  # only the request made after the restart ran
    window.takes.select(1)
    _shot(window, "panel_takes.png")
    window.close()
