"""Starting the panel: arguments, the Qt application, the daemon link, the window."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The panel's options (shared with `mfmjt panel`)."""
    parser.add_argument("video", nargs="?", help="video to open")
    parser.add_argument("--address", help="daemon endpoint (default $MFMJT_DAEMON or tcp://127.0.0.1:5557)")
    parser.add_argument("--port", type=int, help="daemon port on 127.0.0.1 (instead of --address)")
    parser.add_argument("--no-start", action="store_true", help="never start a local daemon")
    parser.add_argument("--model", help="model for a daemon the panel starts itself (default: the embedded one)")


def run(args: argparse.Namespace, qt_args: Sequence[str] = ()) -> int:
    """Open the window and run until it is closed; the exit status of the Qt loop."""
    import os

    from PySide6.QtWidgets import QApplication

    from .daemon_link import AutoStart, DaemonLink
    from .qt_guard import ensure_safe_qt
    from .window import PanelWindow

    try:
        ensure_safe_qt()  # a leaking PySide6 build aborts Python minutes later; say so now
    except RuntimeError as exc:
        print(f"mfmjt panel: {exc}", file=sys.stderr)
        return 2

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    address = args.address or (f"tcp://127.0.0.1:{args.port}" if args.port else os.environ.get("MFMJT_DAEMON"))
    autostart = None if args.no_start else AutoStart(("--model", args.model) if args.model else ())
    link = DaemonLink(address, autostart)
    window = PanelWindow(link, args.video)
    window.show()
    return app.exec()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mfmjt-panel", description="MF-MJT sound for pictures")
    add_arguments(parser)
    args, qt_args = parser.parse_known_args(argv)
    return run(args, qt_args)
