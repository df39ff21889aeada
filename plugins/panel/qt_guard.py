"""Refusing a PySide6 build that corrupts Python's reference counts, before it crashes the panel.

PySide6/shiboken6 6.12.0 on CPython 3.11 drops one reference to None on every binding call that
returns nothing (QPainter.drawLine, QWidget.update, ...) and one to True on Signal.emit(True).
None's count is finite before Python 3.12, so after some hundred thousand calls (a few jobs of
painting) the interpreter aborts with "Fatal Python error: none_dealloc". From 3.12 on None, True
and False are immortal (PEP 683) and the same build is harmless. The probe below measures the
leak directly instead of trusting a version list, and gives back the references it took.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

PROBE_CALLS = 64
ALLOW_ENV = "MFMJT_ALLOW_LEAKY_QT"  # "1": only warn (for someone who knows the session is short)
FIX = "pip install 'PySide6-Essentials>=6.6,<6.12'"

# References handed back to None/True after the probe took them (a list of them holds one each).
_restored: list[object] = []


@dataclass(frozen=True)
class QtHealth:
    pyside_version: str
    none_lost: int  # references to None lost over PROBE_CALLS void calls
    true_lost: int  # references to True lost over PROBE_CALLS Signal.emit(True) (not run when None leaks)

    @property
    def leaks(self) -> bool:
        return self.none_lost > 0 or self.true_lost > 0

    def message(self) -> str:
        if not self.leaks:
            return f"PySide6 {self.pyside_version}: reference counts intact"
        lost = (f"a reference to None on every Qt call that returns nothing ({self.none_lost} of "
                f"{PROBE_CALLS} calls)" if self.none_lost else
                f"a reference to True on every signal ({self.true_lost} of {PROBE_CALLS} emits)")
        return (f"PySide6 {self.pyside_version} on Python {sys.version_info.major}.{sys.version_info.minor} "
                f"loses {lost}; the panel would abort within minutes with 'Fatal Python error: "
                f"none_dealloc'. Install a build without the bug: {FIX}")


def probe() -> QtHealth:
    """Count the references None and True lose over a few binding calls; restores what was lost."""
    import PySide6
    from PySide6.QtCore import QObject, Signal

    class _Emitter(QObject):
        fired = Signal(bool)

    obj = _Emitter()
    obj.fired.connect(lambda value: None)
    if sys.version_info >= (3, 12):  # immortal singletons: nothing to lose
        return QtHealth(PySide6.__version__, 0, 0)
    before = sys.getrefcount(None)
    for i in range(PROBE_CALLS):
        obj.setObjectName("probe")  # void
    none_lost = max(0, before - sys.getrefcount(None))
    true_lost = 0
    if not none_lost:  # True has far fewer references than None: risk them only on a clean build
        before = sys.getrefcount(True)
        for i in range(PROBE_CALLS):
            obj.fired.emit(True)
        true_lost = max(0, before - sys.getrefcount(True))
    _restored.extend([None] * none_lost + [True] * true_lost)
    return QtHealth(PySide6.__version__, none_lost, true_lost)


def ensure_safe_qt() -> QtHealth:
    """Raise a RuntimeError that says what to install when the build leaks (a warning on stderr
    instead when $MFMJT_ALLOW_LEAKY_QT=1)."""
    health = probe()
    if health.leaks:
        if os.environ.get(ALLOW_ENV) == "1":
            print(f"warning: {health.message()}", file=sys.stderr)
        else:
            raise RuntimeError(health.message() + f" (or set {ALLOW_ENV}=1 to run anyway)")
    return health
