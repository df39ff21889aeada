"""`mfmjt fetch BUNDLE`: download a model bundle's published weights into the cache."""

from __future__ import annotations

import argparse
import sys
import time

NAME = "fetch"
HELP = "download a model bundle's weights (shows the licence; resumable, checksummed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle or artefact name (see `mfmjt models`)")
    parser.add_argument(
        "--accept-license", action="store_true",
        help="accept the licences shown (needed when not asked interactively)",
    )
    parser.add_argument("--cache-dir", help="weights cache directory (default: $MFMJT_CACHE or "
                        "the user cache directory)")
    parser.add_argument("--verify", action="store_true",
                        help="also re-check the checksums of files already present")


class ProgressBar:
    """A one-line terminal progress bar per file, redrawn at most 10 times a second."""

    def __init__(self, stream=sys.stderr, width: int = 30):
        self.stream, self.width = stream, width
        self._last = 0.0
        self._current: str | None = None

    def __call__(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if name == self._current and not finished and now - self._last < 0.1:
            return
        if self._current is not None and name != self._current:
            self.stream.write("\n")
        self._current, self._last = name, now
        if total:
            filled = int(self.width * done / total)
            bar = "#" * filled + "-" * (self.width - filled)
            line = f"{name} [{bar}] {done / 1e6:,.1f}/{total / 1e6:,.1f} MB"
        else:
            line = f"{name} {done / 1e6:,.1f} MB"
        self.stream.write("\r" + line)
        if finished:
            self.stream.write("\n")
            self._current = None
        self.stream.flush()


def _ask(notice: str) -> bool:
    print(notice, file=sys.stderr)
    try:
        answer = input("Accept these licences? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _show_and_accept(notice: str) -> bool:
    print(notice + "\nAccepted with --accept-license.", file=sys.stderr)
    return True


def run(args: argparse.Namespace) -> int:
    from mfmjt_core.weights import cache_dir, fetch_bundle

    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if args.accept_license:
        accept = _show_and_accept
    else:
        accept = _ask if interactive else False
    progress = ProgressBar() if sys.stderr.isatty() else None
    paths = fetch_bundle(
        args.bundle, accept_license=accept, cache=args.cache_dir, progress=progress,
        verify=args.verify,
    )
    print(f"{args.bundle}: {len(paths)} file(s) ready in {cache_dir(args.cache_dir)}")
    return 0
