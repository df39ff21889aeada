"""`mfmjt average OUT MODEL...`: model soups as the shipped model is made; files of another
architecture, bad weights and OUT = an input are refused and write nothing."""

from __future__ import annotations

import pytest
import torch

from mfmjt_cli.entry import main
from mfmjt_core.model import AudioModel, tiny_random_spec
from mfmjt_core.model.file import read_model, rewrite_config


@pytest.fixture
def models(tmp_path):
    return [AudioModel.create(tiny_random_spec(), generator=torch.Generator().manual_seed(seed)).save(
        tmp_path / f"m{seed}.safetensors") for seed in range(3)]


def test_weighted_average_of_three(models, tmp_path, capsys):
    out = tmp_path / "soup.safetensors"
    assert main(["average", str(out), *map(str, models), "--weights", "2", "1", "1"]) == 0
    assert "x 0.5" in capsys.readouterr().out
    parts = [read_model(m)[0] for m in models]
    soup, config = read_model(out)
    assert soup.keys() == parts[0].keys()
    floats = [k for k in soup if soup[k].is_floating_point()]
    assert floats
    for key in floats:
        expected = 0.5 * parts[0][key].double() + 0.25 * parts[1][key].double() + 0.25 * parts[2][key].double()
        assert torch.allclose(soup[key].double(), expected, atol=1e-7), key
    assert any(not torch.equal(soup[k], parts[0][k]) for k in floats)
    assert config["defaults"] == read_model(models[0])[1]["defaults"]
    assert config["training"]["soup_of"] == [f"{models[0]} x 0.5", f"{models[1]} x 0.25", f"{models[2]} x 0.25"]
    from mfmjt_core.pipeline.generator import Generator

    assert Generator.load(out).model.spec.name == read_model(models[0])[1]["name"]  # a model the daemon serves


def test_a_zero_weight_gives_the_other_file_back(models, tmp_path):
    out = tmp_path / "same.safetensors"
    assert main(["average", str(out), str(models[0]), str(models[1]), "--weights", "1", "0"]) == 0
    first, soup = read_model(models[0])[0], read_model(out)[0]
    assert all(torch.equal(first[k], soup[k]) for k in first)


def test_refusals_write_nothing(models, tmp_path, capsys):
    out = tmp_path / "soup.safetensors"
    other = rewrite_config(models[2], lambda c: {**c, "window_s": c["window_s"] * 2})
    assert other["window_s"]
    assert main(["average", str(out), str(models[0]), str(models[2])]) == 2
    assert "window_s" in capsys.readouterr().err
    assert main(["average", str(out), str(models[0]), str(models[1]), "--weights", "1"]) == 2
    assert "2 model files" in capsys.readouterr().err
    assert main(["average", str(out), str(models[0]), str(models[1]), "--weights", "1", "-1"]) == 2
    assert main(["average", str(out), str(models[0])]) == 2
    assert "at least two" in capsys.readouterr().err
    assert not out.exists()
    assert main(["average", str(models[0]), str(models[0]), str(models[1])]) == 2
    assert "new file" in capsys.readouterr().err
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    assert main(["average", str(out), str(models[0]), str(tmp_path / "junk.safetensors")]) == 6
    assert main(["average", str(out), str(models[0]), str(tmp_path / "gone.safetensors")]) == 5
    assert "no model file at" in capsys.readouterr().err
    assert main(["average", str(out), str(models[0]), str(tmp_path)]) == 6
    assert "is a folder, not a model file" in capsys.readouterr().err
    assert main(["average", str(tmp_path / "soup.wav"), str(models[0]), str(models[1])]) == 2
    assert "OUT must end in .safetensors" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "soup.wav").exists()


def test_a_student_and_its_run_under_the_recipe_name_average(models, tmp_path):
    """`mfmjt train --init STUDENT` names its export after the recipe: the name is a label, not
    the architecture, so the student and that run average; `--name` names the average."""
    rewrite_config(models[1], lambda c: {**c, "name": "another-name"})
    out = tmp_path / "soup.safetensors"
    assert main(["average", str(out), str(models[0]), str(models[1])]) == 0
    assert read_model(out)[1]["name"] == read_model(models[0])[1]["name"]
    named = tmp_path / "named.safetensors"
    assert main(["average", str(named), str(models[0]), str(models[1]), "--name", "mfmjt-tiny-synth"]) == 0
    assert read_model(named)[1]["name"] == "mfmjt-tiny-synth"
    assert main(["average", str(tmp_path / "x.safetensors"), str(models[0]), str(models[1]), "--name", " "]) == 2
    assert not (tmp_path / "x.safetensors").exists()
