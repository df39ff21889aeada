"""The daemon's side of the local token (see protocol.py): create the 0600 file once, read it."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from mfmjt_daemon import protocol


class TokenError(OSError):
    """The token file cannot be made private or read."""


def ensure_token(path: Path | None = None) -> str:
    """The token in `path` (default `protocol.token_path()`), creating the file (mode 600, in a
    folder of mode 700 when we create it) with a fresh random token if it does not exist."""
    path = Path(path or protocol.token_path())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_new(path, exclusive=True)
    info = path.stat()
    if os.name == "posix":
        if info.st_uid != os.getuid():
            raise TokenError(f"{path} belongs to another user; remove it or set ${protocol.TOKEN_FILE_ENV}")
        if stat.S_IMODE(info.st_mode) & 0o077:  # others could read it: that token is spent
            _write_new(path, exclusive=False)
    token = protocol.read_token(path)
    if token is None:
        raise TokenError(f"{path} holds no token; delete it and start the daemon again")
    return token


def _write_new(path: Path, *, exclusive: bool) -> None:
    """A fresh token in a new mode-600 file: at `path` unless it exists (`exclusive`), else
    replacing it atomically."""
    target = path if exclusive else path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if exclusive:
            return
        raise
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    if not exclusive:
        os.replace(target, path)
