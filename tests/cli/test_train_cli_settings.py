"""`--set` on `mfmjt train` and `mfmjt distill`: a typo or a value out of range is one line and
exit 2 before any work (no run folder), and picture jitter is refused where rows are features
encoded once."""

from __future__ import annotations

import pytest

from mfmjt_cli.entry import main

TRAIN = ["train", "tiny-synth", "--stages", "continue", "--init", "embedded"]


@pytest.mark.parametrize(("setting", "words"), [
    ("continue:picture_augment=2", "--set (continue stage): picture_augment is a strength in [0, 1], got 2.0"),
    ("continue:neutral_looks=-0.1", "--set (continue stage): neutral_looks is a share of rows in [0, 1], got -0.1"),
    ("continue:nonsense=1", "--set (continue stage): unknown config field 'nonsense'"),
    ("objective.mu", "--set (continue stage): override 'objective.mu' is not KEY=VALUE"),
    ("optim.lr=fast", "--set (continue stage): optim.lr: expected a number, got 'fast'"),
    ("steps=many", "--set (continue stage): steps: invalid literal for int()"),
    ("continue:objective.kind=fm2", "--set (continue stage): kind is one of fm, meanflow, got 'fm2'"),
])
def test_a_bad_setting_is_a_usage_error_before_any_work(setting, words, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_setting_for_a_stage_not_run_is_checked_only_where_it_applies(tmp_path, capsys):
    """`meanflow:` settings reach only the meanflow stage; a continue-only run does not try them."""
    out = tmp_path / "run"
    code = main([*TRAIN, "--out", str(out), "--set", "continue:nonsense=1", "--set", "meanflow:steps=5"])
    assert code == 2 and "(continue stage)" in capsys.readouterr().err


@pytest.mark.parametrize("setting", ["picture_augment=0.5", "neutral_looks=0.5"])
def test_picture_options_are_refused_on_extracted_features(setting, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "features", "--data", str(tmp_path), "--out", str(out), "--set", setting]) == 2
    assert "picture_augment and neutral_looks change frames made during training" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("setting", ["picture_augment=0.5", "neutral_looks=0.5"])
def test_picture_options_are_refused_by_distill(setting, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["distill", "embedded", "--data", str(tmp_path), "--out", str(out), "--set", setting]) == 2
    assert "picture_augment and neutral_looks change frames made during training" in capsys.readouterr().err
    assert not out.exists()
