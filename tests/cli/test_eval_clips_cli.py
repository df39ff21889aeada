"""`mfmjt eval clips DIR` as a user runs it: the embedded model on a messy folder of real videos
(odd sizes and rates, four containers, files to skip), the table, figure, JSON and takes it
writes, long clips windowed as `Generator.generate` windows them, and bad input as one line and
its exit code."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mfmjt_cli.entry import main
from tests.evaluation.clip_folder import world_clip, write_clip_folder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("my videos")
    return root, write_clip_folder(root)


def _run(argv: list[str], capsys) -> tuple[int, str, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line.strip()]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_embedded_model_on_a_messy_folder(folder, tmp_path, capsys):
    root, kinds = folder
    out = tmp_path / "report"
    code, stdout, err = _run(["eval", "clips", str(root), "--out", str(out), "--steps", "1"], capsys)
    assert code == 0, err
    progress = [line for line in err if line.startswith("[")]
    assert len(progress) == len(kinds) and progress[0].startswith(f"[1/{len(kinds)}] copy.mp4: skipped")
    assert {"markdown", "json", "figure"} <= {line.split(":")[0] for line in stdout.splitlines()}

    table = [line for line in (out / "results.md").read_text().splitlines() if line.startswith("| ")][1:]
    assert len(table) == len(kinds) + 2 and table[-2].startswith("| **all 3 clip(s)**")
    for name, kind in kinds.items():
        line = next(row for row in table if row.startswith(f"| `{name}`"))
        if kind == "clip":
            assert "skipped" not in line
        else:
            assert "skipped: " in line and kind in line, line
    assert "`sub/deeper.mkv`" not in "\n".join(table)  # top level only without --recursive

    report = json.loads((out / "results.json").read_text())
    scored = [c for c in report["clips"] if c["status"] == "scored"]
    assert sorted(c["name"] for c in scored) == sorted(n for n, k in kinds.items() if k == "clip")
    for clip in scored:
        for key in ("onset_f1", "onset_precision", "onset_recall", "mel_l1_db", "rtf"):
            assert math.isfinite(clip[key]), (clip["name"], key)
        assert 0.0 <= clip["onset_f1"] <= 1.0 and clip["mel_l1_db"] > 0.0 and clip["rtf"] > 0.0
        assert clip["soundtrack_onsets"] > 0 and abs(clip["duration_s"] - 2.0) < 0.15
        wave, rate = sf.read(out / "audio" / clip["audio"], dtype="float32")
        assert rate == 16_000 and wave.shape == (round(clip["duration_s"] * 16_000),) and np.abs(wave).max() > 0
    total = report["aggregate"]
    assert total["clips"] == 3 and total["frechet_windows"] == sum(c["windows"] for c in scored) >= 6
    assert math.isfinite(total["frechet"]) and total["frechet"] > 0.0
    assert total["soundtrack_onsets"] == sum(c["soundtrack_onsets"] for c in scored)
    assert report["sampling"]["steps"] == 1 and report["model"]["name"].startswith("mfmjt-tiny-synth")
    ceiling = report["codec_ceiling"]  # the soundtracks through the embedded model's codec
    assert ceiling["clips"] == 3 and ceiling["rtf"] is None and math.isfinite(ceiling["frechet"])
    assert ceiling["soundtrack_onsets"] == total["soundtrack_onsets"] and ceiling["onset_f1"] >= 0.8
    assert all(math.isfinite(c["ceiling_mel_l1_db"]) for c in scored)
    assert "*soundtracks through the model's codec*" in table[-1]

    width, height = _png_size(out / "mel_spectrograms.png")
    assert width > 800 and height > 3 * 128
    assert not [p for p in out.rglob("*") if ".partial-" in p.name or p.name.endswith(".tmp")]


def test_recursive_and_max_seconds(folder, tmp_path, capsys):
    root, _ = folder
    out = tmp_path / "report"
    code, _, err = _run(["eval", "clips", str(root), "--out", str(out), "--recursive", "--max-seconds", "1",
                         "--no-audio", "--figure-clips", "0", "--seed", "7", "--no-ceiling"], capsys)
    assert code == 0, err
    report = json.loads((out / "results.json").read_text())
    scored = {c["name"]: c for c in report["clips"] if c["status"] == "scored"}
    assert "sub/deeper.mkv" in scored and len(scored) == 4
    assert all(c["duration_s"] == 1.0 for c in scored.values())
    assert "first 1 of 2.0 s" in scored["odd.webm"]["notes"]
    assert report["sampling"]["seed"] == 7 and "--recursive" in report["command"]
    assert not (out / "audio").exists() and not (out / "mel_spectrograms.png").exists()
    assert report["codec_ceiling"] is None and "codec" not in (out / "results.md").read_text().split("## How")[0]


def test_long_clips_are_windowed_as_the_generator_does(tmp_path, capsys):
    from mfmjt_core.media import write_video
    from mfmjt_core.pipeline.generator import Generator

    clip = world_clip(2, 9.0)  # longer than the embedded model's 8 s window: two windows
    videos = tmp_path / "long"
    videos.mkdir()
    video = write_video(videos / "long.mp4", clip.frames, clip.fps, audio=clip.audio[None], sample_rate=16_000)
    out = tmp_path / "report"
    code, _, err = _run(["eval", "clips", str(videos), "--out", str(out), "--seed", "3"], capsys)
    assert code == 0, err
    report = json.loads((out / "results.json").read_text())
    take, _ = sf.read(out / "audio" / report["clips"][0]["audio"], dtype="float32")
    expected = Generator.load(None).generate(video=video, start=0.0, end=report["clips"][0]["duration_s"], seed=3,
                                             sample_rate=16_000, peak_ceiling=None)
    np.testing.assert_array_equal(take, expected.audio[0, 0])


def test_a_model_file_with_the_sampling_options(folder, tmp_path, capsys):
    """A model file of ours (a small flow-matching model), and seed, steps, guidance, mode and
    prompt reaching the generator as on `mfmjt generate`."""
    import dataclasses

    from mfmjt_core.model import AudioModel, tiny_random_spec
    from mfmjt_core.pipeline.generator import Generator

    spec = dataclasses.replace(tiny_random_spec(), name="tiny-fm", objective="fm")
    model_file = AudioModel.create(spec, generator=torch.Generator().manual_seed(1)).save(tmp_path / "fm.safetensors")
    root, _ = folder
    videos = tmp_path / "one"
    videos.mkdir()
    (videos / "odd.webm").write_bytes((root / "odd.webm").read_bytes())
    out = tmp_path / "report"
    options = ["--seed", "5", "--steps", "2", "--guidance", "2.5", "--rescale", "plain", "-p", "a glass ball bounces"]
    code, _, err = _run(["eval", "clips", str(videos), "--out", str(out), "--model", str(model_file), *options],
                        capsys)
    assert code == 0, err
    report = json.loads((out / "results.json").read_text())
    assert report["sampling"] == {"steps": 2, "guidance": 2.5, "rescale": "plain", "temperature": 1.0, "seed": 5,
                                  "prompt": "a glass ball bounces"}
    assert report["model"]["objective"] == "fm" and report["model"]["source"] == str(model_file)
    clip = report["clips"][0]
    take, _ = sf.read(out / "audio" / clip["audio"], dtype="float32")
    expected = Generator.load(model_file).generate(
        video=videos / "odd.webm", start=0.0, end=clip["duration_s"], seed=5, steps=2, guidance=2.5,
        rescale="plain", prompt="a glass ball bounces", sample_rate=16_000, peak_ceiling=None)
    np.testing.assert_array_equal(take, expected.audio[0, 0])
    assert "a glass ball bounces" in (out / "results.md").read_text()


@pytest.mark.parametrize("args, code, words", [
    (["{empty}"], 3, "no files in"),
    (["{tmp}/nope"], 3, "does not exist"),
    (["{bad}"], 3, "no usable clip in"),
    (["{videos}", "--max-seconds", "0"], 2, "--max-seconds: must be a positive number"),
    (["{videos}", "--steps", "0"], 2, "--steps: must be an integer in [1, 1000]"),
    (["{videos}", "--out", "{tmp}/file.txt"], 2, "is a file, not a folder"),
    (["{videos}", "--out", "{videos}"], 2, "must not be the clips folder"),
    (["{videos}", "--model", "nope"], 4, "unknown model 'nope'"),
], ids=["empty folder", "missing folder", "nothing usable", "max-seconds 0", "steps 0", "out is a file",
        "out is the folder", "unknown model"])
def test_bad_input_is_one_line_and_its_exit_code(args, code, words, folder, tmp_path, capsys):
    root, _ = folder
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("notes.txt", "no sound.mkv"):
        (bad / name).write_bytes((root / name).read_bytes())
    out = tmp_path / "out"
    argv = ["eval", "clips", *[a.format(empty=tmp_path / "empty", tmp=tmp_path, bad=bad, videos=root) for a in args]]
    if "--out" not in argv:
        argv += ["--out", str(out)]
    got, _, err = _run(argv, capsys)
    assert got == code, err
    assert err and err[0].startswith("mfmjt") and words in err[0], err
    assert not (out / "results.md").exists()
    if args != ["{bad}"]:
        assert len(err) == 1, err
    else:  # every skipped file is listed with its reason
        assert any("notes.txt: not a readable video" in line for line in err)
        assert any("no sound.mkv: no audio track" in line for line in err)


def test_a_failed_run_leaves_the_previous_results(folder, tmp_path, capsys):
    root, _ = folder
    out = tmp_path / "report"
    out.mkdir()
    (out / "results.md").write_text("previous results\n")
    code, _, _ = _run(["eval", "clips", str(root), "--out", str(out), "--model", str(tmp_path / "missing.safetensors")],
                      capsys)
    assert code == 5
    assert (out / "results.md").read_text() == "previous results\n" and not (out / "results.json").exists()


def test_an_output_folder_that_cannot_be_written(folder, read_only_folder, capsys):
    root, _ = folder
    code, _, err = _run(["eval", "clips", str(root), "--out", str(read_only_folder / "report")], capsys)
    assert code == 2 and len(err) == 1 and "cannot create the output folder" in err[0], err


def test_a_full_disk_is_out_of_resources_and_leaves_no_partial_file(folder, full_folder, capsys):
    root, _ = folder
    code, _, err = _run(["eval", "clips", str(root), "--out", str(full_folder)], capsys)
    assert code == 7 and f"no space left on {full_folder}" in err[-1], err
    assert not [p for p in full_folder.rglob("*") if ".partial-" in p.name or p.name.startswith("results")]
