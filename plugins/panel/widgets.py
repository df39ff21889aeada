"""The panel's painted widgets: the picture, the thumbnail strip (scrub, In/Out shading) and a
variation's waveform (click to select, drag out as a file)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

PLAYHEAD = QColor(255, 80, 60)
RANGE = QColor(90, 170, 255, 70)
RANGE_EDGE = QColor(90, 170, 255)


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 (H, W, 3) array as a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def envelope_path(lows: np.ndarray, highs: np.ndarray, height: int) -> QPainterPath:
    """The min/max envelope as one closed outline: highs left to right, lows back. One fill of this
    path replaces a drawLine per column (thousands of calls a repaint, each a chance for a binding
    bug to bite; see qt_guard)."""
    mid, half = height / 2, height / 2 - 4
    top = mid - np.asarray(highs, np.float64) * half
    bottom = mid - np.asarray(lows, np.float64) * half
    bottom = np.maximum(bottom, top + 1.0)  # silence still shows a 1-px line
    path = QPainterPath()
    if len(top) == 0:
        return path
    # Column x covers [x, x + 1): the outline runs along the tops, then back along the bottoms.
    xs = np.arange(len(top) + 1, dtype=np.float64)
    top_edge = [QPointF(x, y) for x, y in zip(xs.tolist(), np.append(top, top[-1]).tolist())]
    bottom_edge = [QPointF(x, y) for x, y in zip(xs.tolist(), np.append(bottom, bottom[-1]).tolist())]
    path.addPolygon(QPolygonF(top_edge + bottom_edge[::-1]))  # one call, not one per column
    path.closeSubpath()
    return path


def peaks(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column minimum and maximum of a mono signal (the usual waveform envelope)."""
    columns = max(1, int(columns))
    n = len(samples)
    if n == 0:
        return np.zeros(columns, np.float32), np.zeros(columns, np.float32)
    edges = np.linspace(0, n, columns + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)  # at least one sample a column
    edges = np.minimum(edges, n)
    starts = np.minimum(edges[:-1], n - 1)
    return np.minimum.reduceat(samples, starts), np.maximum.reduceat(samples, starts)


class FrameView(QWidget):
    """The current picture, scaled to fit, letterboxed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_frame(self, rgb: np.ndarray) -> None:
        self.image = to_qimage(rgb)
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(16, 16, 18))
        if self.image is not None:
            size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            box = QRect(QPoint((self.width() - size.width()) // 2, (self.height() - size.height()) // 2), size)
            p.drawImage(box, self.image)
        else:
            p.setPen(QColor(150, 150, 150))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Open or drop a video")
        p.end()


class ThumbnailStrip(QWidget):
    """Thumbnails across the whole file; click or drag to scrub; shows In/Out and the playhead."""

    scrubbed = Signal(float)  # seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duration = 0.0
        self.thumbs: list[QPixmap] = []
        self.position = 0.0
        self.mark_in: float | None = None
        self.mark_out: float | None = None
        self.setFixedHeight(64)
        self.setCursor(Qt.CursorShape.IBeamCursor)

    def set_thumbnails(self, images: list[np.ndarray], duration: float) -> None:
        self.thumbs = [QPixmap.fromImage(to_qimage(rgb)) for rgb in images]
        self.duration = duration
        self.update()

    def set_marks(self, position: float, mark_in: float | None, mark_out: float | None) -> None:
        self.position, self.mark_in, self.mark_out = position, mark_in, mark_out
        self.update()

    def x_of(self, seconds: float) -> int:
        return 0 if self.duration <= 0 else round(seconds / self.duration * (self.width() - 1))

    def seconds_at(self, x: float) -> float:
        return max(0.0, min(self.duration, x / max(1, self.width() - 1) * self.duration))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.duration > 0:
            self.scrubbed.emit(self.seconds_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self.duration > 0:
            self.scrubbed.emit(self.seconds_at(event.position().x()))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        if self.thumbs:
            w = self.width() / len(self.thumbs)
            for i, thumb in enumerate(self.thumbs):
                cell = QRect(round(i * w), 0, round((i + 1) * w) - round(i * w), self.height())
                p.drawPixmap(cell, thumb, QRect(QPoint(0, 0), thumb.size().scaled(cell.size(),
                             Qt.AspectRatioMode.KeepAspectRatioByExpanding).boundedTo(thumb.size())))
        if self.duration > 0:
            if self.mark_in is not None or self.mark_out is not None:
                a, b = (
                    self.x_of(self.mark_in or 0.0),
                    self.x_of(self.duration if self.mark_out is None else self.mark_out),
                )
                p.fillRect(QRect(a, 0, max(1, b - a), self.height()), RANGE)
                p.setPen(QPen(RANGE_EDGE, 2))
                p.drawLine(a, 0, a, self.height())
                p.drawLine(b, 0, b, self.height())
            p.setPen(QPen(PLAYHEAD, 2))
            x = self.x_of(self.position)
            p.drawLine(x, 0, x, self.height())
        p.end()


class WaveformView(QWidget):
    """One variation: min/max envelope of its channels mixed to mono, the playhead, a label.
    Click selects; dragging further than the system's drag distance asks to drag the file out."""

    clicked = Signal(int)
    drag_requested = Signal(int)

    def __init__(self, index: int, audio: np.ndarray, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index, self.label = index, label
        self.mono = audio.mean(axis=0) if audio.ndim == 2 else audio
        self.playhead: float | None = None  # 0..1 of the clip
        self.selected = False
        self._press: QPoint | None = None
        self._path: tuple[QSize, QPainterPath] | None = None  # envelope cached per widget size
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("click to select, drag onto another application to use the sound")

    def sizeHint(self) -> QSize:
        return QSize(400, 64)

    def envelope(self) -> QPainterPath:
        """The waveform outline for the current size; recomputed only when the size changes."""
        if self._path is None or self._path[0] != self.size():
            lows, highs = peaks(self.mono, self.width())
            self._path = (self.size(), envelope_path(lows, highs, self.height()))
        return self._path[1]

    def set_playhead(self, fraction: float | None) -> None:
        self.playhead = fraction
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            self.clicked.emit(self.index)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and (event.position().toPoint() - self._press).manhattanLength() \
                >= QApplication.startDragDistance():
            self._press = None
            self.drag_requested.emit(self.index)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press = None

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(38, 44, 52) if self.selected else QColor(28, 30, 34))
        p.fillPath(self.envelope(), QColor(120, 220, 160) if self.selected else QColor(110, 170, 140))
        if self.playhead is not None:
            p.setPen(QPen(PLAYHEAD, 2))
            x = round(self.playhead * (self.width() - 1))
            p.drawLine(x, 0, x, self.height())
        label = p.fontMetrics().boundingRect(self.label).adjusted(-4, -2, 4, 2)
        label.moveTopLeft(QPoint(4, 3))
        p.fillRect(label, QColor(0, 0, 0, 170))  # readable over any waveform
        p.setPen(QColor(235, 235, 235))
        p.drawText(label, Qt.AlignmentFlag.AlignCenter, self.label)
        if self.selected:
            p.setPen(QPen(RANGE_EDGE, 2))
            p.drawRect(self.rect().adjusted(1, 1, -1, -1))
        p.end()
