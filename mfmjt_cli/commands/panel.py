"""`mfmjt panel`: the standalone desktop panel (needs the `panel` extra: PySide6)."""

from __future__ import annotations

import argparse
import sys

NAME = "panel"
HELP = "open the desktop panel: mark a range of a video, generate, audition, export"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from mfmjt_panel.app import add_arguments as panel_arguments  # argparse only, no Qt
    except ImportError:  # installed without the panel: `run` says so
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        return
    panel_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        import PySide6  # noqa: F401
        from mfmjt_panel.app import run as run_panel
    except ImportError as exc:
        print(f"mfmjt panel: {exc.name or exc} is missing; install the panel with `pip install 'mfmjt[panel]'`",
              file=sys.stderr)
        return 1
    return run_panel(args)
