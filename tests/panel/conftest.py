"""Offscreen Qt, the panel importable as `mfmjt_panel` from the checkout, a real daemon, clips."""

from __future__ import annotations

import importlib.util
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt makes the QApplication

from daemon_process import running_daemon
from panel_testing import ROOT, frame_gray

if importlib.util.find_spec("mfmjt_panel") is None:  # not installed: load the checkout under that name
    _spec = importlib.util.spec_from_file_location(
        "mfmjt_panel", ROOT / "plugins" / "panel" / "__init__.py",
        submodule_search_locations=[str(ROOT / "plugins" / "panel")])
    sys.modules["mfmjt_panel"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["mfmjt_panel"])


@pytest.fixture(scope="session")
def daemon_address(tmp_path_factory):
    yield from running_daemon(tmp_path_factory.mktemp("daemon"))


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """72 frames at 23.976 fps (3.003 s), 160x96: gray level per frame plus a moving square."""
    from mfmjt_core.media import write_video

    frames = np.zeros((72, 96, 160, 3), np.uint8)
    for i in range(72):
        frames[i] = frame_gray(i)
        frames[i, 30:60, 2 * i: 2 * i + 30] = (250, 120, 40)
    return write_video(tmp_path_factory.mktemp("clips") / "square.mp4", frames, Fraction(24000, 1001), gop=12)


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory) -> Path:
    """60 s of tiny black frames at 8 fps: a job long enough to cancel."""
    from mfmjt_core.media import write_video

    return write_video(tmp_path_factory.mktemp("clips") / "long.mp4", np.zeros((480, 32, 32, 3), np.uint8), Fraction(8))


@pytest.fixture
def panel(qtbot, daemon_address):
    """A PanelWindow connected to the real daemon (no autostart); closed at teardown."""
    from mfmjt_panel.daemon_link import DaemonLink
    from mfmjt_panel.window import PanelWindow

    link = DaemonLink(daemon_address, autostart=None)
    with qtbot.waitSignal(link.connected, timeout=20_000):
        window = PanelWindow(link)  # starts the link once its signals are connected
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()
