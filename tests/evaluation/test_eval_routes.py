"""`mfmjt eval route`: the ledger of routes tried, its rows taken from real evaluations."""

from __future__ import annotations

import json

import pytest

from mfmjt_cli.entry import main
from mfmjt_core.evaluation.routes import SECTION_TITLE, read_ledger, replace_section


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory, cli_one_thread):
    """A real `mfmjt eval synth` of the small random model on two clips (its default guidance:
    zero_star; a plain run before it, which a row must not take for the default)."""
    out = tmp_path_factory.mktemp("eval")
    argv = ["eval", "synth", "--model", "tiny-random", "--clips", "2", "--out", str(out),
            "--configs", "mf1-off-video", "mf1-plain-video", "mf1-zero_star-video", "mf1-zero_star-text",
            "--rtf-clips", "0",
            "--figure-clips", "1", "--material-train-clips", "20", "--guidance", "1.5"]
    assert cli_one_thread(argv) == 0
    return out, argv


def _route(out, name, *extra):
    return main(["eval", "route", name, "--from", str(out), "--route", "flow model converted to a flow map",
                 "--what", "the test's random model", "--device", "CPU, 1 thread", "--minutes", "80",
                 "--steps", "10508 FM + 2000 MeanFlow (batch 16)", "--share", "0.76",
                 "--ledger", str(out / "routes.json"), *extra])


def test_a_row_holds_the_evaluations_own_numbers_and_stays_in_the_report(evaluation):
    out, argv = evaluation
    assert _route(out, "conv", "--note", "not kept") == 0
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    (row,) = read_ledger(out / "routes.json")
    assert row.video.onset_f1 == results["mf1-zero_star-video"]["onset_f1"]
    assert row.video.material == results["mf1-zero_star-video"]["material_accuracy"]
    assert row.video.frechet == results["mf1-zero_star-video"]["frechet"] != results["mf1-plain-video"]["frechet"]
    assert row.video.setting == "1 step, zero_star 1.5"
    assert row.unguided.frechet == results["mf1-off-video"]["frechet"] and row.unguided.setting == "1 step, unguided"
    assert row.text.heard_material == results["mf1-zero_star-text"]["heard_material_accuracy"]
    assert row.split == "test" and row.clips == 2 and row.compute.share == 0.76
    assert row.source.startswith("mfmjt eval synth --model tiny-random")

    md = (out / "results.md").read_text()
    assert md.count(SECTION_TITLE) == 1 and "**conv**: the test's random model" in md
    assert md.index("## Bars") < md.index(SECTION_TITLE) < md.index("![mel spectrograms")
    assert "76% of the shipped line's" in md

    # a second row, and the first replaced in place: two rows, the first still first
    assert _route(out, "conv-unguided-only", "--video", "mf1-off-video",
                  "--source", "python scripts/x.py -- --model tiny-random") == 0
    assert _route(out, "conv", "--note", "shipped") == 0
    rows = read_ledger(out / "routes.json")
    assert [r.name for r in rows] == ["conv", "conv-unguided-only"] and rows[0].note == "shipped"
    assert rows[1].video.setting == "1 step, unguided"
    assert rows[1].source == "python scripts/x.py -- --model tiny-random"

    # a new evaluation into the folder (cached audio: it only scores) keeps the section
    assert main(argv) == 0
    md = (out / "results.md").read_text()
    assert md.count(SECTION_TITLE) == 1 and "**conv-unguided-only**" in md and "| shipped |" in md
    assert md.count("its default is unguided") == 1  # the unguided row says so instead of repeating itself


def test_bad_input_is_refused_and_leaves_the_ledger_whole(evaluation, tmp_path, capsys):
    out, _ = evaluation
    assert _route(out, "first") == 0
    before = (out / "routes.json").read_bytes()
    assert _route(out, "x", "--video", "fm25-plain-video") == 2
    assert "no run 'fm25-plain-video' (video)" in capsys.readouterr().err
    assert _route(tmp_path, "x") == 2  # a folder without an evaluation
    assert "no results.json" in capsys.readouterr().err
    assert _route(out, "x", "--share", "-1") == 2
    assert (out / "routes.json").read_bytes() == before


def test_a_broken_ledger_stops_the_evaluation_before_it_generates(tmp_path, capsys):
    (tmp_path / "routes.json").write_text('{"version": 1, "routes": [{"name": "half"}]}')
    assert main(["eval", "synth", "--model", "tiny-random", "--clips", "2", "--out", str(tmp_path),
                 "--configs", "mf1-off-video"]) == 2
    assert "route 'half'" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "results.md").exists()
    (tmp_path / "routes.json").write_text("{not json")
    assert _route(tmp_path, "x") == 2


def test_the_section_goes_before_the_figure_or_at_the_end():
    section = [SECTION_TITLE, "", "| a |"]
    with_figure = "# r\n\n## Bars\n\n- x\n\n![fig](f.png)\n"
    once = replace_section(with_figure, section)
    assert once.index(SECTION_TITLE) < once.index("![fig]")
    twice = replace_section(once, [SECTION_TITLE, "", "| b |"])
    assert twice.count(SECTION_TITLE) == 1 and "| b |" in twice and "| a |" not in twice
    assert replace_section("# r\n", section).rstrip().endswith("| a |")
    assert replace_section(once, []) .count(SECTION_TITLE) == 0
