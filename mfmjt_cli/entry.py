"""The `mfmjt` command: the argument parser and the dispatch to a subcommand.

Subcommands are discovered from `mfmjt_cli.commands`: each module there defines `NAME`, `HELP`,
`add_arguments(parser)` and `run(args) -> int`, and imports its heavy dependencies inside
`run`, so `mfmjt --help` stays fast. Exit codes: 0 success, 1 generic failure, 2 usage error,
3 bad media, 4 unknown model, 5 missing weights, 6 bad weights, 7 out of resources (a full
disk included), 130 cancelled or interrupted.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from mfmjt_core import __version__
from mfmjt_core.errors import MfmjtError


def _command_modules():
    import mfmjt_cli.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{package.__name__}.{info.name}")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (what is wrong and where to look), exit code 2; subcommand
    parsers are of the same class."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mfmjt", description="One-step AI sound for pictures (MeanFlow + MMAudio)."
    )
    parser.add_argument("--version", action="version", version=f"mfmjt {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except MfmjtError as exc:
        print(f"mfmjt {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mfmjt {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file system's refusal (read-only, permissions, full): a line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"mfmjt {args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 7 if exc.errno in (errno.ENOSPC, errno.EDQUOT) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
