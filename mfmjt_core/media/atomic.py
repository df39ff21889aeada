"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written file, and a failure leaves neither a partial output nor the
temporary file behind. Temporary names carry the writer's process id, so files left by a killed
run (a `kill -9` between write and rename) are recognised and removed by the next run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from mfmjt_core.errors import ResourceError
from mfmjt_core.media.media_errors import MediaWriteError

TEMP_MARKER = ".partial-"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def temp_path_for(path: Path) -> Path:
    """A fresh hidden name in the target's folder that keeps the suffix (formats go by suffix)."""
    return path.with_name(f".{path.stem}{TEMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (any user's), so its temporary files are still in use."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_partials(targets: Iterable[Path]) -> list[Path]:
    """Remove the temporary files that dead processes left for these targets; returns them."""
    removed = []
    for target in targets:
        pattern = re.compile(
            re.escape(f".{target.stem}{TEMP_MARKER}") + r"(\d+)-[0-9a-f]+" + re.escape(target.suffix) + r"\Z"
        )
        with contextlib.suppress(OSError):
            for entry in target.parent.iterdir():
                match = pattern.match(entry.name)
                if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
                    with contextlib.suppress(OSError):
                        entry.unlink()
                        removed.append(entry)
    return removed


def write_error(target: Path, exc: OSError) -> Exception:
    """The error to raise for an OSError while writing `target`: running out of space is a
    ResourceError (exit 7) naming the folder; anything else a MediaWriteError with the reason."""
    if exc.errno in _NO_SPACE:
        return ResourceError(f"no space left on {target.parent} (writing {target.name})")
    return MediaWriteError(f"cannot write {target}: {exc.strerror or exc}")


def write_bytes(path: Path, data, target: Path | None = None) -> None:
    """Write `data` to `path` and flush it to disk, mapping OSError through `write_error`."""
    try:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # a full disk may only say so here
    except OSError as exc:
        raise write_error(target or path, exc) from None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on error it is removed.

    Raises MediaWriteError when the folder does not exist or is not a folder. The clean-up
    never hides the error that caused it (a read-only or full disk keeps its own message).
    """
    target = Path(path).expanduser()
    folder = target.parent
    if not folder.is_dir():
        raise MediaWriteError(f"cannot write {target}: folder {folder} does not exist")
    if target.is_dir():
        raise MediaWriteError(f"cannot write {target}: it is a folder")
    temp = temp_path_for(target)
    try:
        yield temp
        if not temp.is_file():
            raise MediaWriteError(f"writing {target} produced no file")
        try:
            os.replace(temp, target)
        except OSError as exc:
            raise write_error(target, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
