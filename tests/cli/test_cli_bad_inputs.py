"""Every bad input a user can give `mfmjt generate` ends in one clear line and its documented exit
code (2 usage, 3 bad media, 4 unknown model, 5 missing weights, 7 out of resources), never a
traceback, and output names are checked before any generation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mfmjt_cli.entry import main

TINY = ["--model", "tiny-random"]

# (name, arguments after `generate` with {video}/{tmp} filled in, exit code, words in the message)
CASES = [
    ("duration zero", ["-d", "0"], 2, "--duration: must be a number in [0.001"),
    ("duration negative", ["-d", "-5"], 2, "--duration: must be a number"),
    ("duration nan", ["-d", "nan"], 2, "got 'nan'"),
    ("duration inf", ["-d", "inf"], 2, "got 'inf'"),
    ("duration text", ["-d", "long"], 2, "got 'long'"),
    ("guidance nan", ["-d", "1", "--guidance", "nan"], 2, "--guidance: must be a number in [0, 100]"),
    ("temperature nan", ["-d", "1", "--temperature", "nan"], 2, "--temperature: must be a number in [0, 2]"),
    ("temperature 3", ["-d", "1", "--temperature", "3"], 2, "--temperature"),
    ("variations 0", ["-d", "1", "--variations", "0"], 2, "--variations: must be an integer in [1, 16]"),
    ("variations 1000", ["-d", "1", "--variations", "1000"], 2, "--variations"),
    ("steps 0", ["-d", "1", "--steps", "0"], 2, "--steps: must be an integer in [1, 1000]"),
    ("steps 10000", ["-d", "1", "--steps", "10000"], 2, "--steps"),
    ("steps text", ["-d", "1", "--steps", "abc"], 2, "got 'abc'"),
    ("sample rate 0", ["-d", "1", "--sample-rate", "0"], 2, "--sample-rate: must be an integer in [8000, 192000]"),
    ("seed 2**64", ["-d", "1", "--seed", str(2**64)], 2, "--seed: must be an integer in [0, 9223372036854775807]"),
    ("seed negative", ["-d", "1", "--seed", "-1"], 2, "--seed"),
    ("channels 3", ["-d", "1", "--channels", "3"], 2, "--channels: must be one of [1, 2]"),
    ("rescale unknown", ["-d", "1", "--rescale", "loud"], 2, "--rescale: must be one of"),
    ("loudness above 0", ["-d", "1", "--loudness", "5"], 2, "--loudness: must be a number in [-70, 0]"),
    ("peak ceiling above 0", ["-d", "1", "--peak-ceiling", "3"], 2, "--peak-ceiling"),
    ("prompt too long", ["-d", "1", "-p", "x" * 5000], 2, "--prompt: must be a string of at most 4096"),
    ("unknown option", ["-d", "1", "--wetness", "1"], 2, "unrecognized arguments: --wetness"),
    ("nothing to do", [], 2, "give a VIDEO, or --prompt with --duration"),
    ("start without video", ["-d", "1", "--start", "1"], 2, "'start' needs a video"),
    ("start negative", ["{video}", "--start", "-1"], 2, "--start: must be a number in [0"),
    ("end before start", ["{video}", "--start", "1.5", "--end", "0.5"], 2, "the range is empty"),
    ("end and duration", ["{video}", "--end", "1", "-d", "1"], 2, "end or its duration, not both"),
    ("output is a folder", ["-d", "1", "-o", "{tmp}"], 2, "use a name ending in .wav or .flac"),
    ("output folder named like a file", ["-d", "1", "-o", "{tmp}/dir.wav"], 2, "it is a folder"),
    ("output as mp3", ["-d", "1", "-o", "{tmp}/out.mp3"], 2, "cannot write audio to"),
    ("output without suffix", ["-d", "1", "-o", "{tmp}/out"], 2, "use a name ending in .wav or .flac"),
    ("output folder missing", ["-d", "1", "-o", "{tmp}/missing/out.wav"], 2, "the folder does not exist"),
    ("mux without video", ["-d", "1", "--mux", "{tmp}/out.mp4"], 2, "--mux needs a VIDEO"),
    ("mux as avi", ["{video}", "--mux", "{tmp}/out.avi"], 2, "cannot write the muxed video"),
    ("device unknown", ["-d", "1", "--device", "bogus"], 2, "unknown device 'bogus'"),
    ("video missing", ["{tmp}/nope.mp4"], 3, "is not a file"),
    ("video not media", ["{tmp}/text.mp4"], 3, "is not a readable media file"),
    ("start past the video", ["{video}", "--start", "100"], 3, "outside the video"),
    ("model unknown", ["-d", "1", "--model", "nope"], 4, "unknown model 'nope'"),
    ("model file missing", ["-d", "1", "--model", "{tmp}/nope.safetensors"], 5, "no model file at"),
]


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, [line for line in captured.err.replace("\r", "\n").splitlines() if line.strip()]


@pytest.mark.parametrize("name, args, code, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_its_exit_code(name, args, code, words, tmp_path, video, capsys):
    (tmp_path / "dir.wav").mkdir()
    (tmp_path / "text.mp4").write_text("not a video")
    argv = ["generate", *[a.format(video=video, tmp=tmp_path) for a in args]]
    if "--model" not in argv:
        argv += TINY
    if not any(a in ("-o", "--output") for a in argv):
        argv += ["-o", str(tmp_path / "out.wav")]
    got, lines = _run(argv, capsys)
    assert got == code, (got, lines)
    assert lines and lines[-1].startswith("mfmjt") and words in lines[-1], lines
    if code == 2:  # found before any work: exactly one line, nothing written
        assert len(lines) == 1, lines
        assert not (tmp_path / "out.wav").exists()


def test_a_read_only_folder_is_refused_before_generation(read_only_folder, capsys):
    got, lines = _run(["generate", "-d", "1", *TINY, "-o", str(read_only_folder / "out.wav")], capsys)
    assert got == 2 and len(lines) == 1 and "Read-only file system" in lines[0], lines


def test_a_full_disk_is_exit_7_naming_the_folder(full_folder, capsys):
    # 2 s of 48 kHz float32 mono is 384 kB: the folder takes the write test but not the take.
    target = full_folder / "out.wav"
    got, lines = _run(["generate", "-d", "2", *TINY, "--seed", "1", "-o", str(target)], capsys)
    assert got == 7, lines
    assert lines[-1] == f"mfmjt generate: no space left on {full_folder} (writing out.wav)"
    assert os.listdir(full_folder) == []  # no partial file left behind


def test_a_real_process_prints_no_traceback(tmp_path):
    """The same path as a user's shell: a separate process, its stderr, its exit status."""
    for args, code in ((["-d", "nan"], 2), (["-d", "1", "-o", str(tmp_path / "out.mp3")], 2),
                       ([str(tmp_path / "nope.mp4")], 3)):
        done = subprocess.run([sys.executable, "-m", "mfmjt_cli", "generate", *args, *TINY],
                              check=False, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == code, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not Path(tmp_path / "out.mp3").exists()


CLIENT_CASES = [c for c in CASES if c[2] in (2, 3) and not any(a in ("--mux", "--device", "--model") for a in c[1])
                and c[0] not in ("start past the video", "video not media")]  # (those two are the daemon's to find)


@pytest.mark.parametrize("name, args, code, words", CLIENT_CASES, ids=[c[0] for c in CLIENT_CASES])
def test_the_client_refuses_the_same_inputs_before_sending(name, args, code, words, tmp_path, video, capsys):
    # nothing listens at this address: each case must end before the client tries to reach it
    (tmp_path / "dir.wav").mkdir()
    argv = ["client", "--address", "tcp://127.0.0.1:9", "--timeout", "0.2",
            *[a.format(video=video, tmp=tmp_path) for a in args]]
    if not any(a in ("-o", "--output") for a in argv):
        argv += ["-o", str(tmp_path / "out.wav")]
    got, lines = _run(argv, capsys)
    assert got == code, (got, lines)
    assert len(lines) == 1 and lines[0].startswith("mfmjt") and words in lines[0], lines


@pytest.mark.parametrize("args, words", [
    (["--address", "foo"], "cannot reach 'foo'"),
    (["--port", "70000"], "--port: 70000 is not a port"),
    (["--timeout", "0"], "--timeout: 0 must be at least 0.1"),
    (["--server-key", "x" * 40, "--client-key", "/no/such.key_secret"], "no client key file at /no/such.key_secret"),
])
def test_the_client_refuses_where_it_cannot_go_in_one_line(args, words, tmp_path, capsys):
    got, lines = _run(["client", "-d", "1", "-o", str(tmp_path / "out.wav"), *args], capsys)
    assert got == 2 and len(lines) == 1 and words in lines[0], lines


def test_a_folder_that_turns_read_only_during_the_job_is_exit_1_and_keeps_the_old_take(tmp_path, capsys, monkeypatch):
    # the input was fine: not exit 3 ('bad media'), as it was
    from mfmjt_core.pipeline.generator import Generator
    from tests.cli.conftest import mounted_tmpfs

    with mounted_tmpfs(tmp_path / "disk", "size=4m") as disk:
        take = disk / "out.wav"
        take.write_bytes(b"the previous take")
        generate = Generator.generate

        def generate_then_lose_the_disk(self, **request):
            result = generate(self, **request)
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            return result

        monkeypatch.setattr(Generator, "generate", generate_then_lose_the_disk)
        got, lines = _run(["generate", "-d", "1", *TINY, "-o", str(take)], capsys)
        assert got == 1 and "Read-only file system" in lines[-1], lines
        assert take.read_bytes() == b"the previous take"
