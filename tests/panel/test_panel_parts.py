"""The panel's pieces: frames by time, waveform envelope, PCM for the sink, the form's request,
a drop, an interface that keeps running while no daemon answers, and a daemon it starts itself."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
from daemon_process import free_port, serve_model_arguments
from panel_testing import frame_gray
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent


def _gray(rgb: np.ndarray) -> int:
    return int(rgb[2:6, -8:-2].mean())


def test_frames_are_found_by_time_forwards_and_backwards(clip):
    from mfmjt_panel.video import FrameReader, probe

    info = probe(clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (160, 96, Fraction(24000, 1001), 72)
    reader = FrameReader(info, (80, 48))
    try:
        # the frame on screen at t is the last one starting at or before t + half a frame, as the
        # export and the daemon pick them (stamps rounded to a coarse clock land a little late)
        frame = 1001 / 24000
        for index, t in [(0, 0.0), (1, frame + 1e-4), (30, 30 * frame), (30, 30 * frame - 1e-3),
                         (29, 29.5 * frame - 1e-3), (71, 10.0), (5, 5 * frame + 0.01)]:
            img = reader.frame_at(t)
            assert img.shape == (48, 80, 3)
            assert abs(_gray(img) - frame_gray(index)) <= 3, (index, t)
    finally:
        reader.close()
    assert info.snap(0.5) == pytest.approx(11 * 1001 / 24000)


def test_peaks_are_the_min_and_max_per_column():
    from mfmjt_panel.widgets import peaks

    x = np.array([0, 1, -2, 3, 0.5, -0.5, 4, -4], np.float32)
    lows, highs = peaks(x, 4)
    assert lows.tolist() == [0, -2, -0.5, -4] and highs.tolist() == [1, 3, 0.5, 4]
    lows, highs = peaks(x[:3], 6)  # more columns than samples: each column holds one sample
    assert len(lows) == 6 and set(highs.tolist()) <= {0.0, 1.0, -2.0}


def test_pcm16_interleaves_and_clips():
    from mfmjt_panel.playback import pcm16

    audio = np.array([[0.0, 1.5, -1.0], [0.5, -0.25, 2.0]], np.float32)
    assert np.frombuffer(pcm16(audio), "<i2").tolist() == [0, 16384, 32767, -8192, -32767, 32767]


def test_form_gives_client_keywords(qtbot):
    from mfmjt_panel.form import RequestForm

    form = RequestForm()
    qtbot.addWidget(form)
    assert form.request().submit_kwargs()["seed"] is None
    form.prompt.setText("  rain on a tin roof ")
    form.use_seed(2**62 + 5)
    form.guidance.setValue(3.5)
    kwargs = form.request().submit_kwargs()
    assert kwargs == {"prompt": "rain on a tin roof", "negative_prompt": "", "seed": 2**62 + 5, "steps": 1,
                      "guidance": 3.5, "rescale": None, "temperature": None, "variations": 2, "channels": 2,
                      "sample_rate": 48_000, "loudness": None}
    form.loudness.setValue(-23.0)
    form.steps.setValue(5000)  # the schema's bound, not the widget's guess
    form.rescale.setCurrentIndex(form.rescale.findData("std"))
    form.temperature.setValue(0.6)
    request = form.request()
    assert request.loudness == -23.0 and request.steps == 1000
    assert (request.rescale, request.temperature) == ("std", 0.6)
    form.temperature.setValue(9.0)  # the schema's bound
    assert form.request().temperature == 2.0


def test_dropping_a_file_opens_it(qtbot, clip):
    from mfmjt_panel.daemon_link import DaemonLink
    from mfmjt_panel.window import PanelWindow

    window = PanelWindow(DaemonLink(f"tcp://127.0.0.1:{free_port()}", autostart=None))
    qtbot.addWidget(window)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip))])
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    assert window.info is not None and window.info.path == str(clip)
    window.close()


def test_interface_keeps_running_while_no_daemon_answers(qtbot, clip):
    from mfmjt_panel.daemon_link import DaemonLink
    from mfmjt_panel.window import PanelWindow

    ticks: list[float] = []
    timer = QTimer(interval=20, timeout=lambda: ticks.append(time.monotonic()))
    timer.start()
    link = DaemonLink(f"tcp://127.0.0.1:{free_port()}", autostart=None)
    with qtbot.waitSignal(link.unavailable, timeout=10_000):
        window = PanelWindow(link, str(clip))
        qtbot.addWidget(window)
    timer.stop()
    gaps = np.diff(ticks)
    assert len(ticks) > 20 and gaps.max() < 0.3, gaps.max()  # events kept flowing during the probe
    # the window's slot is queued behind the one that ended the wait: let it run
    qtbot.waitUntil(lambda: "no daemon answers" in window.daemon_label.text(), timeout=2_000)
    with qtbot.waitSignal(link.failed, timeout=5_000) as failed:
        window.generate()
    assert failed.args[1] == "unavailable" and window.generate_button.isEnabled()
    window.close()


def test_a_local_daemon_is_started_when_none_answers_and_stopped_on_close(qtbot):
    from mfmjt_panel.daemon_link import AutoStart, DaemonLink

    link = DaemonLink(f"tcp://127.0.0.1:{free_port()}", AutoStart(serve_model_arguments()))
    with qtbot.waitSignal(link.connected, timeout=90_000) as connected:
        link.start()
    assert connected.args[0]["versions"] == [1]
    process = link.started_process
    assert process is not None and process.poll() is None
    link.shutdown()
    assert process.poll() is not None
