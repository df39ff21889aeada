"""`mfmjt resolve-bridge`: the daemon side of the Resolve scripts (`mfmjt_resolve.bridge`)."""

from __future__ import annotations

import argparse

NAME = "resolve-bridge"
HELP = "send a rendered range to the daemon for the Resolve scripts (line-oriented output)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mfmjt_resolve.bridge import add_arguments as bridge_arguments

    bridge_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from mfmjt_resolve.bridge import run as run_bridge

    from mfmjt_core.errors import exit_code_for

    return run_bridge(args, exit_code_for)
