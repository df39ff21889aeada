"""`mfmjt resolve-selftest`: the Resolve API facts the scripts rely on, checked in the running
DaVinci Resolve (`mfmjt_resolve.external_scripting`)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "resolve-selftest"
HELP = "check the Resolve API facts the MF-MJT scripts rely on, in the running DaVinci Resolve (Studio)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-dir", help="Resolve's Developer/Scripting folder (default: $RESOLVE_SCRIPT_API, "
                        "else where Resolve installs it on this OS)")


def run(args: argparse.Namespace) -> int:
    from mfmjt_resolve.external_scripting import run_selftest

    return run_selftest(Path(args.api_dir).expanduser() if args.api_dir else None)
