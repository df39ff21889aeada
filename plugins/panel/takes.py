"""The list of takes of the last result: one waveform each, one selected, a playhead on it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from .export import variation_audio
from .widgets import WaveformView


class TakesView(QScrollArea):
    selected = Signal(int)
    drag_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views: list[WaveformView] = []
        self.current = 0
        self._rows = QVBoxLayout()
        self._rows.addStretch(1)
        box = QWidget()
        box.setLayout(self._rows)
        self.setWidget(box)
        self.setWidgetResizable(True)
        self.setMinimumHeight(150)

    def show_result(self, result) -> None:
        """One waveform per variation, labelled with its seed; the first selected."""
        for view in self.views:
            self._rows.removeWidget(view)
            view.deleteLater()
        self.views = []
        for i in range(result.variations):
            seed = result.seeds[i] if i < len(result.seeds) else "?"
            view = WaveformView(i, variation_audio(result, i), f"take {i + 1}  seed {seed}")
            view.clicked.connect(self.select)
            view.drag_requested.connect(self.drag_requested)
            self._rows.insertWidget(i, view)
            self.views.append(view)
        self.select(0)

    def select(self, index: int) -> None:
        self.current = index
        for view in self.views:
            view.selected = view.index == index
            view.update()
        self.selected.emit(index)

    def set_playhead(self, fraction: float | None) -> None:
        """Show the playhead (0..1 of the take) on the selected take; None hides it."""
        for view in self.views:
            view.set_playhead(fraction if view.index == self.current else None)
