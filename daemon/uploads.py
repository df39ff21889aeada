"""Received video bytes: one private folder per daemon run, named after the daemon's pid.

A save that fails (full disk, quota, file size limit) removes its partial file and answers
`resource` with the job id, so nothing half-written stays behind and the client does not
re-send blindly. Folders of daemons that died without cleaning up (kill -9, power loss) are
removed when the next daemon starts.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from mfmjt_daemon import protocol

from mfmjt_core.media.atomic import pid_alive

log = logging.getLogger("mfmjt_daemon.uploads")

PREFIX = "mfmjt-daemon-"
_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")  # mfmjt-daemon-<pid>-<random>
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def remove_stale_folders(root: str | Path | None = None) -> list[Path]:
    """Delete this user's upload folders under `root` (the temp folder) whose daemon is dead;
    returns them. Folders of live daemons, other users' and unnamed ones are left alone."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _OWNED.match(entry.name)
            if match is None or int(match.group(1)) == os.getpid() or pid_alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir() and not entry.is_symlink() and entry.stat().st_uid == os.getuid():
                    shutil.rmtree(entry)
                    removed.append(entry)
    if removed:
        log.info("removed %d upload folder(s) of daemons that are no longer running", len(removed))
    return removed


class Uploads:
    """A private folder (mode 700) for received video bytes; removed with everything in it."""

    def __init__(self, root: str | Path | None = None) -> None:
        remove_stale_folders(root)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))
        self._names = itertools.count(1)

    def save(self, data: memoryview, video_format: str, job_id: str) -> Path:
        """Write one upload; a failure leaves no bytes and raises ProtocolError (`resource`,
        with the job id, without the daemon's paths)."""
        path = self.folder / f"{next(self._names)}.{video_format}"
        try:
            with open(path, "xb") as f:
                f.write(data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink()
            size = f"{memoryview(data).nbytes / 2**20:.1f} MiB"
            if exc.errno in _NO_ROOM:
                text = (f"no space left on the daemon's temporary folder for the {size} video; free some space "
                        "there (or send a shorter clip), then submit again")
            else:
                text = f"the daemon could not store the {size} video ({os.strerror(exc.errno or 0)})"
            log.warning("upload of job %s failed: %s", job_id, exc)
            raise protocol.ProtocolError(protocol.RESOURCE, text, job=job_id) from None
        return path

    def scrub(self, text: str) -> str:
        """`text` with any path inside the upload folder replaced by "the uploaded video"."""
        if str(self.folder) not in text:
            return text
        return re.sub(re.escape(str(self.folder)) + r"[^\s'\"]*", "the uploaded video", text)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
