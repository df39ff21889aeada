"""A set of takes is written all-or-nothing; temporary files of killed runs are cleaned up; a
full or read-only disk keeps its own error (atomic.py never masks it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mfmjt_core.errors import ResourceError
from mfmjt_core.media import MediaWriteError, write_audio
from mfmjt_core.media.atomic import TEMP_MARKER
from mfmjt_core.media.output_set import OutputPathError, check_output_paths, write_audio_set

RATE = 16_000


def _takes(value: float, n: int = 3) -> list[np.ndarray]:
    return [np.full((1, RATE // 4), value * (i + 1) / 10, np.float32) for i in range(n)]


def _old_set(folder: Path) -> tuple[list[Path], list[bytes]]:
    paths = [folder / "take.wav", folder / "take_2.wav", folder / "take_3.wav"]
    write_audio_set(paths, _takes(1.0), RATE)
    return paths, [p.read_bytes() for p in paths]


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_MARKER in p.name)


def test_a_set_replaces_the_old_one_whole(tmp_path):
    paths, old = _old_set(tmp_path)
    write_audio_set(paths, _takes(2.0), RATE)
    assert all(p.read_bytes() != b for p, b in zip(paths, old)) and _partials(tmp_path) == []


def test_an_interruption_between_files_keeps_the_old_set(tmp_path):
    paths, old = _old_set(tmp_path)

    def interrupt(temp: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_audio_set(paths, _takes(2.0), RATE, on_written=interrupt)
    assert [p.read_bytes() for p in paths] == old and _partials(tmp_path) == []


SCRIPT = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    import numpy as np
    from mfmjt_core.media.output_set import write_audio_set
    folder, how = Path(sys.argv[1]), sys.argv[2]
    # as in a terminal: a shell's background job (`make test &`) starts with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    paths = [folder / "take.wav", folder / "take_2.wav", folder / "take_3.wav"]
    takes = [np.full((1, 4000), 0.5, np.float32)] * 3
    def stop(temp):
        os.kill(os.getpid(), signal.SIGINT if how == "int" else signal.SIGKILL)
    write_audio_set(paths, takes, 16000, on_written=stop)
''')


@pytest.mark.parametrize("how, status", [("int", -signal.SIGINT), ("kill", -signal.SIGKILL)])
def test_a_real_signal_between_files_keeps_the_old_set(tmp_path, how, status):
    paths, old = _old_set(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), how], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == status, done.stderr
    assert [p.read_bytes() for p in paths] == old
    if how == "int":  # Python unwinds: its temporary file is gone at once
        assert "KeyboardInterrupt" in done.stderr and _partials(tmp_path) == []
    else:  # kill -9 leaves the first take's temporary file, named with the dead pid ...
        (left,) = _partials(tmp_path)
        assert left.startswith(f".take{TEMP_MARKER}")
        # ... which the next run removes (while a live process's file is left alone)
        mine = tmp_path / f".take{TEMP_MARKER}{os.getppid()}-00ff.wav"
        mine.write_bytes(b"in use")
        write_audio_set(paths, _takes(3.0), RATE)
        assert _partials(tmp_path) == [mine.name]


def test_output_paths_are_checked_before_any_work(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    check_output_paths([tmp_path / "a.wav", tmp_path / "b.flac"])
    for bad, words in ((tmp_path / "a.mp3", "ending in .wav or .flac"), (tmp_path / "dir.wav", "it is a folder"),
                       (tmp_path / "none" / "a.wav", "does not exist")):
        with pytest.raises(OutputPathError, match=words):
            check_output_paths([bad])
    assert sorted(os.listdir(tmp_path)) == ["dir.wav"]  # the write test leaves nothing


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str):
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=False, capture_output=True, text=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); run as root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_a_resource_error_and_leaves_nothing(tmp_path):
    with _tmpfs(tmp_path / "small", "size=64k") as folder:
        big = np.zeros((1, 48_000), np.float32)  # 192 kB of float32
        with pytest.raises(ResourceError, match=f"no space left on {folder}"):
            write_audio(folder / "one.wav", big, 48_000)
        with pytest.raises(ResourceError):
            write_audio_set([folder / "a.wav", folder / "a_2.wav"], [big[:, :4000], big], 48_000)
        assert os.listdir(folder) == []


def test_a_read_only_disk_keeps_its_own_error(tmp_path):
    with _tmpfs(tmp_path / "ro", "ro,size=64k") as folder:
        with pytest.raises(MediaWriteError, match="Read-only file system"):
            write_audio(folder / "one.wav", np.zeros((1, 100), np.float32), RATE)
        with pytest.raises(OutputPathError, match="Read-only file system"):
            check_output_paths([folder / "one.wav"])
