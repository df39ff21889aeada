"""A set of output files (one per variation) checked before any work and written all-or-nothing.

The takes of one request belong together (seed, seed+1, ...): a run that fails or is interrupted
must leave the previous set as it was, never a mix of old and new files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from mfmjt_core.media.atomic import remove_stale_partials, temp_path_for, write_bytes, write_error
from mfmjt_core.media.audio import AUDIO_SUFFIXES, encode_audio


class OutputPathError(ValueError):
    """An output path that cannot be written as asked (found before any work is done)."""


def check_output_paths(paths: Sequence[Path], suffixes: Sequence[str] = AUDIO_SUFFIXES, *,
                       what: str = "audio") -> None:
    """Raise OutputPathError unless every path has a supported suffix, is not a folder, and its
    folder exists and takes a new file (tried for real: a read-only or full file system, or
    missing permission, shows here and not after a long generation)."""
    for path in paths:
        if path.suffix.lower() not in suffixes:
            raise OutputPathError(f"cannot write {what} to {path}: use a name ending in "
                                  f"{' or '.join(suffixes)} (the format follows the name)")
        if path.is_dir():
            raise OutputPathError(f"cannot write {path}: it is a folder; give a file name")
    for folder in dict.fromkeys(p.parent for p in paths):
        if not folder.is_dir():
            raise OutputPathError(f"cannot write to {folder}: the folder does not exist")
        try:
            fd, probe = tempfile.mkstemp(prefix=".mfmjt-write-test-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise OutputPathError(f"cannot write to {folder}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block is done (the renames of a set), then act as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    names = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda sig, _frame: caught.append(sig)) for s in names}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in caught:
            os.kill(os.getpid(), sig)


def write_audio_set(paths: Sequence[Path], takes: Sequence[np.ndarray], sample_rate: int, *,
                    subtype: str | None = None, on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Write each take (C, N) to its path: all of them, or none.

    Every take goes to a temporary file beside its target first (named with this process id);
    only when all are written are they renamed over the targets, with SIGINT/SIGTERM held back
    during the renames. A failure or an interruption before that removes the temporary files and
    leaves the old files as they were; files of killed runs are removed at the next call.
    subtype: see `encode_audio`. on_written(temp) is called after each temporary file is complete.
    """
    paths = [Path(p).expanduser() for p in paths]
    if len(paths) != len(takes):
        raise ValueError(f"{len(takes)} takes for {len(paths)} paths")
    remove_stale_partials(paths)
    temps: list[Path] = []
    try:
        for path, take in zip(paths, takes):
            data = encode_audio(take, sample_rate, path.suffix, subtype=subtype)
            temps.append(temp_path_for(path))
            write_bytes(temps[-1], data, path)
            if on_written is not None:
                on_written(temps[-1])
        with _signals_deferred():
            for temp, path in zip(temps, paths):
                try:
                    os.replace(temp, path)
                except OSError as exc:
                    raise write_error(path, exc) from None
    except BaseException:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise
    return paths
