"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written file, and a failure leaves neither a partial output nor the
temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from mfmjt_core.media.errors import MediaWriteError

TEMP_MARKER = ".partial-"


def temp_path_for(path: Path) -> Path:
    """A fresh hidden name in the target's folder that keeps the suffix (formats go by suffix)."""
    return path.with_name(f".{path.stem}{TEMP_MARKER}{secrets.token_hex(4)}{path.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on error it is removed.

    Raises MediaWriteError when the folder does not exist or is not a folder.
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
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
