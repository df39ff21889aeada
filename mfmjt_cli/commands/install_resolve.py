"""`mfmjt install-resolve`: put the MF-MJT scripts into DaVinci Resolve (`mfmjt_resolve.installer`)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "install-resolve"
HELP = "install (or --uninstall) the DaVinci Resolve scripts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mfmjt_resolve.installer import add_arguments as installer_arguments

    installer_arguments(parser)


def default_lib_dir() -> Path:
    """Where the Resolve library and its settings go unless --lib-dir says: mfmjt's data folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mfmjt", appauthor=False)) / "resolve"


def run(args: argparse.Namespace) -> int:
    from mfmjt_resolve.installer import run as run_installer

    return run_installer(args, default_lib_dir())
