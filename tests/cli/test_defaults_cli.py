"""`mfmjt defaults MODEL`: show and set a model file's sampling defaults, with the reason kept;
every client then samples with them; bad values and bad files change nothing."""

from __future__ import annotations

import os

import pytest
import torch

from mfmjt_cli.entry import main
from mfmjt_core.model import AudioModel, tiny_random_spec
from mfmjt_core.model.file import read_model


@pytest.fixture
def model(tmp_path):
    return AudioModel.create(tiny_random_spec(), generator=torch.Generator().manual_seed(0)).save(
        tmp_path / "m.safetensors")


def test_show_then_set_with_the_reason(model, capsys):
    assert main(["defaults", str(model)]) == 0
    assert "defaults: steps 1, guidance 2.0, rescale zero_star, temperature 1.0" in capsys.readouterr().out
    before, _ = read_model(model)
    assert main(["defaults", str(model), "--guidance", "1", "--temperature", "0.8", "--because",
                 "mfmjt eval clips heldout/ at guidance 1 vs 2: onset F1 0.41 vs 0.33"]) == 0
    out = capsys.readouterr().out
    assert "guidance 1.0" in out and "temperature 0.8" in out and "chosen by: mfmjt eval clips" in out
    tensors, config = read_model(model)
    assert config["defaults"] == {"steps": 1, "guidance": 1.0, "rescale": "zero_star", "temperature": 0.8}
    (entry,) = config["training"]["defaults_history"]
    assert entry["was"]["guidance"] == 2.0 and entry["set"] == {"guidance": 1.0, "temperature": 0.8}
    assert tensors.keys() == before.keys() and all(torch.equal(tensors[k], before[k]) for k in tensors)
    from mfmjt_core.pipeline.generator import Generator

    assert Generator.load(model).model.spec.defaults.temperature == 0.8  # what the daemon serves


def test_the_text_temperature(model, capsys):
    assert main(["defaults", str(model), "--text-temperature", "1.1", "--because", "eval synth, text rows"]) == 0
    assert "text_temperature 1.1" in capsys.readouterr().out
    _, config = read_model(model)
    assert config["defaults"]["text_temperature"] == 1.1 and config["defaults"]["temperature"] == 1.0
    from mfmjt_core.pipeline.generator import Generator

    assert Generator.load(model).model.spec.defaults.temperature_for(False) == 1.1


def test_the_text_guidance(model, capsys):
    assert main(["defaults", str(model), "--text-guidance", "3", "--because", "eval synth, text rows"]) == 0
    assert "text_guidance 3.0" in capsys.readouterr().out
    _, config = read_model(model)
    assert config["defaults"]["text_guidance"] == 3.0 and config["defaults"]["guidance"] == 2.0
    from mfmjt_core.pipeline.generator import Generator

    defaults = Generator.load(model).model.spec.defaults
    assert defaults.guidance_for(False) == 3.0 and defaults.guidance_for(True) == 2.0


@pytest.mark.parametrize("args", [["--steps", "0", "--because", "x"], ["--guidance", "-1", "--because", "x"],
                                  ["--text-temperature", "5", "--because", "x"],
                                  ["--text-guidance", "-1", "--because", "x"], ["--steps", "4"]])
def test_bad_values_or_no_reason_change_nothing(model, args, capsys):
    stat = os.stat(model)
    assert main(["defaults", str(model), *args]) == 2
    assert "mfmjt defaults:" in capsys.readouterr().err
    assert os.stat(model).st_mtime_ns == stat.st_mtime_ns


def test_not_a_model_file(tmp_path, capsys):
    other = tmp_path / "notes.safetensors"
    other.write_bytes(b"not a model")
    assert main(["defaults", str(other), "--steps", "2", "--because", "x"]) != 0
    assert "cannot read model file" in capsys.readouterr().err
    assert other.read_bytes() == b"not a model"


def test_the_spectrum_median(model, capsys):
    assert main(["defaults", str(model), "--median-frames", "3", "--text-median-frames", "1",
                 "--because", "eval synth, val"]) == 0
    assert "median_frames 3, text_median_frames 1" in capsys.readouterr().out
    from mfmjt_core.pipeline.generator import Generator

    defaults = Generator.load(model).model.spec.defaults
    assert defaults.median_frames_for(True) == 3 and defaults.median_frames_for(False) == 1
    stat = os.stat(model)
    assert main(["defaults", str(model), "--median-frames", "4", "--because", "x"]) == 2
    assert "odd number of frames" in capsys.readouterr().err
    assert os.stat(model).st_mtime_ns == stat.st_mtime_ns


def test_no_spectrum_median_for_a_codec_without_spectra(model, capsys):
    from mfmjt_core.model.file import rewrite_config

    rewrite_config(model, lambda c: {**c, "codec": {**c["codec"], "kind": "vae"}})  # as a distilled student's
    stat = os.stat(model)
    assert main(["defaults", str(model), "--median-frames", "3", "--because", "x"]) == 2
    assert "only the mel codec" in capsys.readouterr().err
    assert os.stat(model).st_mtime_ns == stat.st_mtime_ns


def test_a_rewrite_keeps_the_files_permissions_and_a_new_file_gets_a_new_files(model, tmp_path):
    # the temporary file a model is written through is 0600: a shared model became unreadable
    os.chmod(model, 0o644)
    assert main(["defaults", str(model), "--steps", "2", "--because", "test"]) == 0
    assert os.stat(model).st_mode & 0o777 == 0o644
    previous = os.umask(0o027)
    try:
        assert main(["average", str(tmp_path / "soup.safetensors"), str(model), str(model)]) == 0
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "soup.safetensors").st_mode & 0o777 == 0o640


def test_a_model_on_a_read_only_disk_is_one_line_and_stays_as_it_was(tmp_path, capsys):
    import subprocess

    from tests.cli.conftest import mounted_tmpfs

    with mounted_tmpfs(tmp_path / "disk", "size=64m") as disk:
        model = AudioModel.create(tiny_random_spec(), generator=torch.Generator().manual_seed(0)).save(
            disk / "m.safetensors")
        before = model.read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        capsys.readouterr()
        for argv in (["defaults", str(model), "--steps", "2", "--because", "test"],
                     ["average", str(disk / "soup.safetensors"), str(model), str(model)]):
            assert main(argv) == 1, argv
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and "Read-only file system" in lines[0] and str(disk) in lines[0], lines
        assert model.read_bytes() == before and sorted(p.name for p in disk.iterdir()) == ["m.safetensors"]


def test_a_full_disk_is_exit_7_and_the_model_stays_as_it_was(tmp_path, capsys):
    from tests.cli.conftest import mounted_tmpfs

    with mounted_tmpfs(tmp_path / "disk", "size=64m") as disk:
        model = AudioModel.create(tiny_random_spec(), generator=torch.Generator().manual_seed(0)).save(
            disk / "m.safetensors")
        before = model.read_bytes()
        filler = disk / "filler"
        with open(filler, "wb") as f:  # leave less room than a second copy of the model needs
            f.write(b"\0" * (64 * 2**20 - 2 * len(before) + len(before) // 2))
        capsys.readouterr()
        assert main(["defaults", str(model), "--steps", "2", "--because", "test"]) == 7
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0] and str(model) in lines[0], lines
        assert model.read_bytes() == before and sorted(p.name for p in disk.iterdir()) == ["filler", "m.safetensors"]
