"""The panel driven like a person would, against a real daemon: open, scrub, I/O, prompt,
generate two takes, look (screenshot artefact), export WAV and MP4, drag a take out, cancel."""

from __future__ import annotations

import shutil
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile
from mfmjt_panel.export import variation_audio
from panel_testing import ARTIFACTS, frame_gray
from PySide6.QtCore import Qt

FPS = Fraction(24000, 1001)


def _center_gray(window) -> int:
    img = window.reader.frame_at(window.position)
    return int(img[5:15, -20:-5].mean())  # a corner the moving square never reaches


def test_generate_two_takes_for_a_marked_range_and_export(panel, qtbot, clip, tmp_path):
    window = panel
    assert window.open_video(clip)
    qtbot.waitUntil(lambda: len(window.strip.thumbs) == 12, timeout=10_000)
    assert window.info.frame_count == 72 and window.info.fps == FPS

    # scrub on the strip to about 1 s, then step with the arrow keys and mark with I and O
    qtbot.mouseClick(window.strip, Qt.MouseButton.LeftButton, pos=window.strip.rect().center())
    assert abs(window.position - 1.5) < 0.1
    window.seek(0.0)
    for _ in range(12):
        qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.position == float(12 / FPS)
    assert abs(_center_gray(window) - frame_gray(12)) <= 3  # the picture really is frame 12
    qtbot.keyClick(window, Qt.Key.Key_I)
    for _ in range(47):
        qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_O)  # Out includes frame 59: 48 frames
    start, end = window.selection()
    assert (start, end) == (float(12 / FPS), float(60 / FPS))

    # typing in the prompt does not trigger the I/O shortcuts
    window.form.prompt.setFocus()
    qtbot.keyClicks(window.form.prompt, "Orange ball bouncing In a box")
    assert window.form.prompt.text() == "Orange ball bouncing In a box"
    assert window.selection() == (start, end)
    window.form.negative.setText("music")
    window.form.seed.setText("7")
    window.form.variations.setValue(2)

    with qtbot.waitSignal(window.link.finished, timeout=60_000):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
        assert not window.generate_button.isEnabled() and window.cancel_button.isEnabled()
    result = window.result
    assert result.variations == 2 and result.seeds == (7, 8)
    assert abs(result.start - start) < 1e-6
    assert abs(result.samples - 48 * 1001 / 24000 * 48_000) <= 1
    assert len(window.takes.views) == 2 and window.takes.views[0].selected
    assert window.progress.value() == 1000 and window.generate_button.isEnabled()

    window.takes.select(1)
    qtbot.wait(50)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "panel_after_generation.png"
    assert window.grab().save(str(shot))
    shutil.copy(shot, "/tmp/panel_screenshot.png")
    print(f"\npanel screenshot: {shot} (copy at /tmp/panel_screenshot.png)")

    wav_path = window.export_wav(tmp_path / "take2.wav")
    with wave.open(str(wav_path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 3, 48_000, result.samples)
    written, _ = soundfile.read(str(wav_path), dtype="float32")
    take2 = np.clip(variation_audio(result, 1).T, -1, 1)
    assert np.abs(written - take2).max() < 2**-22  # the selected take, 24-bit exact
    assert np.abs(written - np.clip(variation_audio(result, 0).T, -1, 1)).max() > 0.1
    mp4 = window.export_mp4(tmp_path / "take2.mp4")
    with av.open(str(mp4)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = [f for f in container.decode(video)]
        assert len(frames) == 48 and video.average_rate == FPS
        first = frames[0].to_ndarray(format="rgb24")
        assert abs(int(first[5:15, -20:-5].mean()) - frame_gray(12)) <= 4  # starts exactly at the In frame
        assert audio.rate == 48_000 and audio.channels == 2

    mime = window.drag_mime(0)
    (url,) = mime.urls()
    assert url.isLocalFile() and Path(url.toLocalFile()).is_file()
    assert "seed7" in Path(url.toLocalFile()).name


def test_cancel_stops_a_long_job(panel, qtbot, long_clip):
    window = panel
    window.open_video(long_clip)
    window.form.steps.setValue(20)
    window.form.variations.setValue(1)
    with qtbot.waitSignal(window.link.progress, timeout=30_000,
                         check_params_cb=lambda job, stage, fraction, eta: stage in ("encode", "sample")):
        job = window.generate()
    started = time.monotonic()
    with qtbot.waitSignal(window.link.failed, timeout=20_000) as failed:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert failed.args[:2] == [job, "cancelled"]
    assert time.monotonic() - started < 10
    assert window.stage_label.text() == "cancelled: you cancelled" and window.result is None
    assert window.generate_button.isEnabled()


def test_playback_moves_the_picture_over_the_range(panel, qtbot, clip):
    window = panel
    window.open_video(clip)
    window.seek(float(24 / FPS))
    window.set_in()
    window.seek(float(35 / FPS))
    window.set_out()  # 12 frames, 0.5 s
    seen = []
    window.playback.position.connect(seen.append)
    with qtbot.waitSignal(window.playback.stopped, timeout=5_000):
        qtbot.keyClick(window, Qt.Key.Key_Space)
    assert seen[0] == float(24 / FPS) and seen[-1] == float(36 / FPS)
    assert all(b >= a for a, b in zip(seen, seen[1:])) and len(seen) > 5
    assert window.position == window.info.snap(float(36 / FPS))
    assert np.isclose(window.playback.end - window.playback.start, 12 / float(FPS))
