"""The panel's main window: picture, thumbnail strip, In/Out, request form, progress, results.

Keys as in editors: I and O set In and Out at the playhead, Space plays the selected
variation against the picture, Left/Right step one frame, Esc cancels a running job. (Text
fields keep their letters: Qt gives typed text precedence over these shortcuts.)
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QDrag, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .daemon_link import DaemonLink
from .export import export_mp4, export_wav, variation_audio
from .form import RequestForm
from .playback import Playback
from .takes import TakesView
from .video import FrameReader, VideoError, VideoInfo, probe, thumbnails
from .widgets import FrameView, ThumbnailStrip

THUMBNAILS = 12


def timecode(seconds: float, info: VideoInfo | None) -> str:
    """mm:ss.mmm plus the frame number."""
    frame = f"  f{int(seconds * info.fps + 1e-6)}" if info else ""
    return f"{int(seconds // 60):02d}:{seconds % 60:06.3f}{frame}"


class PanelWindow(QMainWindow):
    thumbnails_ready = Signal(str, list)  # path, [(seconds, rgb)] from the thumbnail thread

    def __init__(self, link: DaemonLink, video: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("MF-MJT")
        self.setAcceptDrops(True)
        self.link = link
        self.info: VideoInfo | None = None
        self.reader: FrameReader | None = None
        self.position = 0.0
        self.mark_in: float | None = None
        self.mark_out: float | None = None
        self.job: str | None = None
        self.phase = ""  # the job's phase as the link last told it (mfmjt_daemon.job_state)
        self.result = None
        self.result_video: VideoInfo | None = None
        self.job_video: VideoInfo | None = None  # the video the running job was made from
        self.selected = 0
        self.export_dir = Path(tempfile.gettempdir()) / "mfmjt-panel"
        self.playback = Playback(self)
        self._build()
        self._connect_signals()
        self.link.start()
        if video:
            self.open_video(video)

    # ---- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.frame_view = FrameView()
        self.strip = ThumbnailStrip()
        self.time_label = QLabel("--:--.---")
        self.range_label = QLabel("In -  Out -")
        self.form = RequestForm()
        self.generate_button = QPushButton("Generate")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress = QProgressBar(minimum=0, maximum=1000, value=0, textVisible=False)
        self.stage_label = QLabel("", wordWrap=True)  # whole messages: they wrap, never clip
        self.daemon_label = QLabel("daemon: connecting ...", wordWrap=True)
        self.play_button = QPushButton("Play (Space)")
        self.wav_button = QPushButton("Export WAV ...")
        self.mp4_button = QPushButton("Export MP4 ...")
        for b in (self.play_button, self.wav_button, self.mp4_button):
            b.setEnabled(False)
        open_button = QPushButton("Open video ...")
        open_button.clicked.connect(self.choose_video)
        set_in, set_out = QPushButton("Set In (I)"), QPushButton("Set Out (O)")
        set_in.clicked.connect(self.set_in)
        set_out.clicked.connect(self.set_out)

        marks = QHBoxLayout()
        for w in (open_button, set_in, set_out, self.range_label):
            marks.addWidget(w)
        marks.addStretch(1)
        marks.addWidget(self.time_label)
        left = QVBoxLayout()
        left.addWidget(self.frame_view, 1)
        left.addWidget(self.strip)
        left.addLayout(marks)

        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)
        right = QVBoxLayout()
        right.addWidget(self.form)
        right.addLayout(buttons)
        right.addWidget(self.progress)
        right.addWidget(self.stage_label)
        right.addStretch(1)
        right.addWidget(self.daemon_label)

        self.takes = TakesView()
        actions = QHBoxLayout()
        for w in (self.play_button, self.wav_button, self.mp4_button):
            actions.addWidget(w)
        actions.addStretch(1)

        top = QHBoxLayout()
        top.addLayout(left, 3)
        right_box = QWidget()
        right_box.setLayout(right)
        right_box.setFixedWidth(340)
        top.addWidget(right_box)
        root = QVBoxLayout()
        root.addLayout(top, 3)
        root.addWidget(self.takes, 1)
        root.addLayout(actions)
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)
        self.resize(1100, 720)

    def _connect_signals(self) -> None:
        self.strip.scrubbed.connect(self.seek)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.play_button.clicked.connect(self.toggle_play)
        self.wav_button.clicked.connect(lambda: self.export_wav())
        self.mp4_button.clicked.connect(lambda: self.export_mp4())
        self.playback.position.connect(self._playing_at)
        self.playback.stopped.connect(lambda: self.takes.set_playhead(None))
        self.takes.selected.connect(lambda index: setattr(self, "selected", index))
        self.takes.drag_requested.connect(self.start_drag)
        self.thumbnails_ready.connect(self._show_thumbnails)
        self.link.connected.connect(self._daemon_connected)
        self.link.unavailable.connect(lambda why: self.daemon_label.setText(f"daemon: {why}"))
        self.link.status.connect(lambda text: self.daemon_label.setText(f"daemon: {text}"))
        self.link.job_changed.connect(self._job_changed)
        self.link.finished.connect(self._job_finished)
        self.link.failed.connect(self._job_failed)
        keys = {"I": self.set_in, "O": self.set_out, "Space": self.toggle_play, "Esc": self.cancel,
                "Left": lambda: self.step(-1), "Right": lambda: self.step(1)}
        for key, slot in keys.items():
            QShortcut(QKeySequence(key), self, activated=slot)

    # ---- video, scrubbing, marks --------------------------------------------------------------

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", "Video (*.mp4 *.mov *.mkv *.m4v *.webm *.avi)")
        if path:
            self.open_video(path)

    def open_video(self, path: str | os.PathLike) -> bool:
        """Load a file: picture at 0, thumbnails in the background; False (and a message) if unusable."""
        try:
            info = probe(path)
            reader = FrameReader(info)
        except VideoError as exc:
            self.stage_label.setText(str(exc))
            return False
        try:
            first = reader.frame_at(0.0)  # a header that opens but frames that do not decode: refused here
        except VideoError as exc:
            reader.close()
            self.stage_label.setText(str(exc))
            return False
        self.playback.stop()
        if self.reader is not None:
            self.reader.close()
        self.info, self.reader = info, reader
        self.mark_in = self.mark_out = None
        self.setWindowTitle(f"MF-MJT - {Path(path).name}")
        self.strip.set_thumbnails([], info.duration)
        threading.Thread(target=self._make_thumbnails, args=(info,), daemon=True).start()
        self.position = 0.0
        self.frame_view.show_frame(first)
        self._update_marks()
        return True

    def _make_thumbnails(self, info: VideoInfo) -> None:
        """Thumbnail thread: decode with its own reader, hand the images to the interface."""
        try:
            images = thumbnails(info, THUMBNAILS)
        except VideoError:
            return
        try:
            self.thumbnails_ready.emit(info.path, images)
        except RuntimeError:  # the window was closed meanwhile
            pass

    def _show_thumbnails(self, path: str, thumbs: list) -> None:
        if self.info is not None and path == self.info.path:
            self.strip.set_thumbnails([rgb for _, rgb in thumbs], self.info.duration)

    def seek(self, seconds: float) -> None:
        if self.info is None:
            return
        self.position = self.info.snap(seconds)
        try:
            self.frame_view.show_frame(self.reader.frame_at(self.position))
        except VideoError as exc:  # a damaged stretch: the last good picture stays, the reason is shown
            self.playback.stop()
            self.stage_label.setText(str(exc))
        self._update_marks()

    def step(self, frames: int) -> None:
        if self.info is not None:
            self.seek(self.position + frames / float(self.info.fps) + 1e-6)

    def set_in(self) -> None:
        if self.info is None:
            return
        self.mark_in = self.position
        if self.mark_out is not None and self.mark_out <= self.mark_in:
            self.mark_out = None
        self._update_marks()

    def set_out(self) -> None:
        """Out includes the frame under the playhead, as in editors."""
        if self.info is None:
            return
        frame = int(self.position * self.info.fps + 1e-6)
        self.mark_out = min(self.info.duration, float((frame + 1) / self.info.fps))
        if self.mark_in is not None and self.mark_in >= self.mark_out:
            self.mark_in = None
        self._update_marks()

    def selection(self) -> tuple[float, float]:
        """The range to generate for, in seconds (whole file without marks)."""
        assert self.info is not None
        return (self.mark_in or 0.0, self.info.duration if self.mark_out is None else self.mark_out)

    def _update_marks(self) -> None:
        self.strip.set_marks(self.position, self.mark_in, self.mark_out)
        self.time_label.setText(timecode(self.position, self.info))
        a, b = self.selection()
        self.range_label.setText(f"In {timecode(a, self.info)}  Out {timecode(b, self.info)}  ({b - a:.3f} s)")

    # ---- generation ---------------------------------------------------------------------------

    def generate(self) -> str | None:
        """Submit the range with the form's settings; returns the job id."""
        if self.info is None:
            self.stage_label.setText("open a video first")
            return None
        if self.job is not None:
            return self.job
        # unset marks go as None: the daemon then uses the file's own start or end
        self.job = self.link.submit(self.info.path, start=self.mark_in, end=self.mark_out,
                                    **self.form.request().submit_kwargs())
        self.job_video = self.info
        self.phase = "sending"
        self.generate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.stage_label.setText("sending ...")
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.link.cancel(self.job)  # the link answers "cancelling" until the daemon confirms

    def _daemon_connected(self, hello: dict) -> None:
        models = ", ".join(f"{m.get('name')} on {m.get('device')}" for m in hello.get("models", []))
        self.daemon_label.setText(f"daemon: {hello.get('server', '?')} - {models}")

    def _job_changed(self, job: str, phase: str, text: str, fraction: float) -> None:
        if job != self.job:
            return
        self.phase = phase
        self.stage_label.setText(text)
        if phase in ("cancelled", "failed"):
            self._job_done()
            self.progress.setValue(0)
        else:
            self.progress.setValue(round(1000 * fraction))

    def _job_done(self) -> None:
        self.job = None
        self.generate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _job_failed(self, job: str, code: str, message: str) -> None:
        if job != self.job:
            return
        self._job_done()
        self.progress.setValue(0)  # the reason is on the stage line already (job_changed)

    def _job_finished(self, job: str, result) -> None:
        if job != self.job:
            return
        self._job_done()
        self.progress.setValue(1000)
        took = result.header.get("run_s")
        self.stage_label.setText(f"done: {result.variations} x {result.duration:.2f} s"
                                 + (f" in {took:.2f} s" if took is not None else ""))
        self.result, self.result_video = result, self.job_video  # not whatever is open now
        self.takes.show_result(result)
        for b in (self.play_button, self.wav_button, self.mp4_button):
            b.setEnabled(True)

    # ---- playback -----------------------------------------------------------------------------

    def toggle_play(self) -> None:
        """Play the selected variation over its range (or the plain picture before any result)."""
        if self.playback.playing:
            self.playback.stop()
            return
        if self.info is None:
            return
        if self.result is not None and self.result_video is not None and self.result_video.path == self.info.path:
            start = self.result.start
            self.playback.play(start, start + self.result.duration, variation_audio(self.result, self.selected),
                               self.result.sample_rate)
        else:
            start, end = self.selection()
            self.playback.play(start, end)
        if self.playback.sound_problem:
            self.stage_label.setText(self.playback.sound_problem)

    def _playing_at(self, seconds: float) -> None:
        self.seek(seconds)
        if self.result is not None and self.result.duration > 0:
            self.takes.set_playhead((seconds - self.result.start) / self.result.duration)

    # ---- export and drag ----------------------------------------------------------------------

    def default_name(self, index: int, suffix: str) -> str:
        stem = Path(self.result_video.path).stem if self.result_video else "mfmjt"
        seed = self.result.seeds[index] if index < len(self.result.seeds) else index
        return f"{stem}_{self.result.start:.2f}s_seed{seed}{suffix}"

    def export_wav(self, path: str | os.PathLike | None = None) -> Path | None:
        if self.result is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export WAV", self.default_name(self.selected, ".wav"), "WAV (*.wav)"
            )
            if not path:
                return None
        try:
            written = export_wav(self.result, self.selected, path)
        except (ValueError, OSError) as exc:
            QMessageBox.warning(self, "Export WAV", str(exc))
            return None
        self.stage_label.setText(f"wrote {written}")
        return written

    def export_mp4(self, path: str | os.PathLike | None = None) -> Path | None:
        if self.result is None or self.result_video is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export MP4", self.default_name(self.selected, ".mp4"), "MP4 (*.mp4)"
            )
            if not path:
                return None
        try:
            written = export_mp4(self.result_video, self.result, self.selected, self.result.start, path)
        except (ValueError, OSError) as exc:
            QMessageBox.warning(self, "Export MP4", str(exc))
            return None
        self.stage_label.setText(f"wrote {written}")
        return written

    def drag_mime(self, index: int) -> QMimeData:
        """The variation written as a WAV in the panel's export folder, as a file URL."""
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = export_wav(self.result, index, self.export_dir / self.default_name(index, ".wav"))
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        return mime

    def start_drag(self, index: int) -> None:
        if self.result is None:
            return
        self.takes.select(index)
        try:
            mime = self.drag_mime(index)
        except (ValueError, OSError) as exc:  # the export folder is full or not writable
            self.stage_label.setText(f"cannot drag the take out: {exc}")
            return
        drag = QDrag(self.takes.views[index])
        drag.setMimeData(mime)
        drag.exec(Qt.DropAction.CopyAction)

    # ---- window events ------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.source() is not None:
            return  # a take dragged out of this window is not a video to open
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and self.open_video(url.toLocalFile()):
                event.acceptProposedAction()
                return

    def closeEvent(self, event) -> None:
        self.playback.stop()
        self.link.shutdown()
        if self.reader is not None:
            self.reader.close()
        super().closeEvent(event)
