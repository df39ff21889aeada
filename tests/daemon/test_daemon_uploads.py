"""Uploads under faults: a full temp folder and the folders of daemons that died."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_testing import wait_for
from mfmjt_daemon import protocol
from mfmjt_daemon.client import Client
from mfmjt_daemon.uploads import Uploads, remove_stale_folders


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_folders_of_dead_daemons_are_removed_at_start_and_live_ones_kept(tmp_path):
    dead = tmp_path / f"mfmjt-daemon-{_dead_pid()}-abcd"
    (dead / "sub").mkdir(parents=True)
    (dead / "1.mp4").write_bytes(b"x" * 1000)
    live = tmp_path / f"mfmjt-daemon-{os.getppid()}-efgh"  # our parent: alive
    live.mkdir()
    other = tmp_path / "mfmjt-daemon-unnamed"  # no pid in the name: not ours to judge
    other.mkdir()
    uploads = Uploads(tmp_path)
    try:
        assert not dead.exists() and live.exists() and other.exists()
        assert uploads.folder.name.startswith(f"mfmjt-daemon-{os.getpid()}-")
        assert oct(uploads.folder.stat().st_mode & 0o777) == "0o700"
        assert remove_stale_folders(tmp_path) == []  # our own folder stays
    finally:
        uploads.remove()


def test_a_failed_save_leaves_no_bytes_and_names_the_job(tmp_path, monkeypatch):
    import resource
    import signal

    uploads = Uploads(tmp_path)
    # A real write failure: this process may not grow a file past 64 kB (EFBIG, as on a full disk).
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, old[1]))
    try:
        with pytest.raises(protocol.ProtocolError) as caught:
            uploads.save(memoryview(b"v" * 200_000), "mp4", "job-7")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, previous)
    assert caught.value.code == "resource" and caught.value.job == "job-7"
    assert str(tmp_path) not in caught.value.message and "no space left" in caught.value.message
    assert list(uploads.folder.iterdir()) == []
    uploads.remove()


def _tmpfs_wrapper(folder: Path, size: str) -> tuple[str, ...] | None:
    """A command prefix that runs a program with a fresh `size` tmpfs mounted on `folder`, in an
    unprivileged user and mount namespace; None where the system does not allow them."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "sh", "-c",
                            f"mount -t tmpfs -o size={size} tmpfs '{folder}'"], capture_output=True)
    if probe.returncode != 0:
        return None
    return (unshare, "--user", "--map-root-user", "--mount", "sh", "-c",
            f'mount -t tmpfs -o size={size} tmpfs "{folder}" && exec "$@"', "mount-tmpfs")


def test_a_full_temp_folder_fails_one_upload_cleanly_and_the_next_small_one_works(start_daemon, tmp_path, clip):
    temp = tmp_path / "full-tmp"
    temp.mkdir()
    wrapper = _tmpfs_wrapper(temp, "1m")
    if wrapper is None:
        pytest.skip("unprivileged user namespaces are off here: no tmpfs to fill without root "
                    "(the save's own failure path is tested with RLIMIT_FSIZE above)")
    d = start_daemon(temp_root=temp, wrapper=wrapper)
    with Client(d.address, timeout=3.0, retries=2) as c:
        big = c.submit(b"\0" * (3 * 2**20), send="bytes", video_format="mp4", duration=None, seed=1)
        wait_for(lambda: big.done, 20, step=lambda: c.poll(0.05), what="the upload's answer")
        assert big.error is not None and big.error.code == "resource", big.error
        assert "no space left" in big.error.message and str(temp) not in big.error.message
        assert big._tries == 1  # answered with its job id: the client did not re-send it
        # Its partial bytes are gone: a small real clip fits in the 1 MiB folder again.
        small = c.submit(clip.read_bytes(), send="bytes", video_format="mp4", seed=2, sample_rate=16_000)
        wait_for(lambda: small.done, 60, step=lambda: c.poll(0.05), what="the small clip's result")
        assert small.result is not None, small.error
        assert c.status()["rejected"] == 1
    assert d.log().count("upload of job") == 1
