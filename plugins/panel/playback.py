"""Playing a variation against the picture.

Sound goes through QtMultimedia's QAudioSink, which ships in PySide6-Addons (PySide6-Essentials,
mfmjt's `panel` extra, has no QtMultimedia). The sink's own count of played audio is the master
clock and the picture follows it, so picture and sound cannot drift. Without Addons, or without
an audio device, the same playback runs silently on a wall clock and `sound_problem` says why.
The picture itself comes from PyAV, not from a media player, so frames are exact.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QElapsedTimer, QIODevice, QObject, QTimer, Signal

try:
    from PySide6.QtMultimedia import QAudio, QAudioFormat, QAudioSink, QMediaDevices
except ImportError:  # PySide6-Essentials only
    QAudioSink = None

TICK_MS = 15
STALL_S = 5.0  # a device that plays nothing for this long past the end does not hold playback


def sound_unavailable_reason() -> str | None:
    """None when sound can play here, else a sentence saying why not."""
    if QAudioSink is None:
        return "no sound: QtMultimedia is missing (pip install PySide6-Addons)"
    if QMediaDevices.defaultAudioOutput().isNull():
        return "no sound: no audio output device"
    return None


def pcm16(audio: np.ndarray) -> bytes:
    """float32 (channels, samples) as interleaved 16-bit little-endian PCM."""
    x = np.clip(np.nan_to_num(audio.T), -1.0, 1.0)
    return np.ascontiguousarray(np.round(x * 32767.0), dtype="<i2").tobytes()


class Playback(QObject):
    """Plays seconds [start, end) of the picture, with `audio` (channels, samples) starting at
    `start`; emits `position` (seconds) about 60 times a second and `stopped` at the end."""

    position = Signal(float)
    stopped = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sound_problem = sound_unavailable_reason()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._sink = None
        self._buffer: QBuffer | None = None
        self.start = self.end = 0.0

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self, start: float, end: float, audio: np.ndarray | None = None, sample_rate: int = 48_000) -> None:
        self.stop()
        self.start, self.end = start, end
        if audio is not None and self.sound_problem is None:
            self._start_sink(audio, sample_rate)
        self._clock.start()
        self._timer.start()
        self.position.emit(start)

    def stop(self) -> None:
        if not self._timer.isActive():
            return
        self._timer.stop()
        if self._sink is not None:
            self._sink.stop()
            self._sink = None
        self._buffer = None
        self.stopped.emit()

    def elapsed(self) -> float:
        """Seconds played: the sink's count of audio handed to the device (the picture waits
        for the sound to start), else the wall clock (also when the sink fails)."""
        if self._sink is not None and self._sink.error() == QAudio.Error.NoError:
            return self._sink.processedUSecs() / 1e6
        return self._clock.nsecsElapsed() / 1e9

    def _tick(self) -> None:
        t = self.start + self.elapsed()
        stalled = self._clock.nsecsElapsed() / 1e9 > self.end - self.start + STALL_S
        if t >= self.end or stalled:
            self.position.emit(self.end)
            self.stop()
        else:
            self.position.emit(t)

    def _start_sink(self, audio: np.ndarray, sample_rate: int) -> None:
        fmt = QAudioFormat()
        fmt.setSampleRate(int(sample_rate))
        fmt.setChannelCount(int(audio.shape[0]))
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(pcm16(audio)))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = QAudioSink(QMediaDevices.defaultAudioOutput(), fmt, self)
        self._sink.start(self._buffer)
