"""What an editor can do to the panel that went wrong: footage whose time stamps are rounded to a
90 kHz clock, another video opened while a job runs, an export over the source or into a folder
that takes no file, a video whose header opens but whose frames do not decode, the playhead
stepped past the last frame. Real widgets and key events, a real daemon."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_copies import remux
from panel_testing import frame_gray
from PySide6.QtCore import Qt

FPS = Fraction(24000, 1001)


@pytest.fixture
def warnings_shown(monkeypatch):
    """QMessageBox.warning calls (title, text), answered at once (offscreen, a modal box would wait)."""
    from mfmjt_panel import window as window_module

    shown = []
    monkeypatch.setattr(window_module.QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    return shown


@pytest.fixture(scope="module")
def clip_90khz(clip, tmp_path_factory) -> Path:
    """The test clip's packets in an MP4 whose video clock is 90 kHz: 23.976 fps frames fall
    between its ticks, so their stamps are rounded (cameras' .ts/.mts and many phones do this)."""
    out = tmp_path_factory.mktemp("clips") / "square_90k.mp4"
    remux(clip, out, video_track_timescale="90000")
    with av.open(str(out)) as check:
        assert check.streams.video[0].time_base == Fraction(1, 90000)
    return out


def _gray(window) -> int:
    """The brightness of the picture shown for the playhead (a corner the moving square never reaches)."""
    return int(window.reader.frame_at(window.position)[5:15, -20:-5].mean())


def test_each_frame_stepped_to_shows_its_own_picture_on_a_90khz_clock(panel, qtbot, clip_90khz):
    # the picture lagged the frame number on about half the frames: I marked the frame after the one seen
    window = panel
    assert window.open_video(clip_90khz)
    wrong = []
    for index in range(1, 72):
        qtbot.keyClick(window, Qt.Key.Key_Right)
        assert round(window.position * window.info.fps) == index
        if abs(_gray(window) - frame_gray(index)) > 3:
            wrong.append(index)
    assert wrong == []
    last = window.position
    qtbot.keyClick(window, Qt.Key.Key_Right)  # past the last frame: the playhead stays on it
    assert window.position == last
    qtbot.keyClick(window, Qt.Key.Key_I)
    assert window.selection()[1] - window.selection()[0] > 0  # never an empty range to send


def test_a_take_stays_with_the_video_it_was_made_from(panel, qtbot, clip, long_clip, tmp_path, warnings_shown):
    window = panel
    assert window.open_video(long_clip)
    window.form.prompt.setText("rain")
    with qtbot.waitSignal(window.link.finished, timeout=120_000):
        window.generate()
        assert window.open_video(clip)  # another video opened while the job runs
    assert window.result_video.path == str(long_clip) and window.info.path == str(clip)
    assert window.default_name(0, ".mp4").startswith("long_")
    # an export over the video the take was made from is refused, and the video is kept
    before = long_clip.read_bytes()
    assert window.export_mp4(long_clip) is None
    assert long_clip.read_bytes() == before
    assert warnings_shown and "is the video the take was made from" in warnings_shown[-1][1]


def test_an_export_into_a_folder_that_takes_no_file_is_said(panel, qtbot, clip, tmp_path, warnings_shown):
    window = panel
    assert window.open_video(clip)
    with qtbot.waitSignal(window.link.finished, timeout=60_000):
        window.generate()
    assert window.export_wav(tmp_path / "missing" / "take.wav") is None
    assert warnings_shown[-1][0] == "Export WAV" and "No such file or directory" in warnings_shown[-1][1]
    assert not (tmp_path / "missing").exists()


def test_a_video_whose_frames_do_not_decode_is_refused_whole(panel, qtbot, clip, tmp_path):
    window = panel
    assert window.open_video(clip)
    # a fast-start copy cut after its index: the header opens, no frame decodes
    whole = tmp_path / "whole.mp4"
    remux(clip, whole, movflags="faststart")
    data = whole.read_bytes()
    mdat = data.index(b"mdat")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: mdat + 8])
    assert not window.open_video(broken)
    assert window.info.path == str(clip) and window.windowTitle().endswith("square.mp4")
    assert window.stage_label.text()  # the reason is shown
    qtbot.keyClick(window, Qt.Key.Key_Right)  # the old video still steps, without an error
    assert window.position == float(1 / FPS)
    assert np.isfinite(_gray(window))
