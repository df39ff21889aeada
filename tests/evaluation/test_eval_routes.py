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
    assert md.count("the video column's run") == 1  # the unguided cell says so instead of repeating it


def test_a_row_shows_the_same_model_on_clips_made_outside(evaluation, tmp_path_factory, cli_one_thread, capsys):
    """`--outside`: a real `mfmjt eval clips` of the row's own model at its defaults fills the
    outside-clips cell; another model's, or one run with other sampling, is refused."""
    from tests.evaluation.clip_folder import write_clip_folder

    out, _ = evaluation
    folder = tmp_path_factory.mktemp("made elsewhere")
    write_clip_folder(folder, seconds=1.0)
    same, other, changed = (tmp_path_factory.mktemp(n) for n in ("same", "other", "changed"))
    assert cli_one_thread(["eval", "clips", str(folder), "--out", str(same), "--model", "tiny-random",
                           "--figure-clips", "0"]) == 0
    aggregate = json.loads((same / "results.json").read_text())["aggregate"]
    assert _route(out, "outside", "--outside", str(same)) == 0
    row = next(r for r in read_ledger(out / "routes.json") if r.name == "outside")
    assert (row.outside.clips, row.outside.onset_f1, row.outside.precision, row.outside.frechet) == (
        aggregate["clips"], aggregate["onset_f1"], aggregate["onset_precision"], aggregate["frechet"])
    assert row.outside.clips == 3
    line = next(x for x in (out / "results.md").read_text().splitlines() if "**outside**" in x)
    assert f"(precision {aggregate['onset_precision']:.2f})" in line and "(3 clips)" in line

    before = (out / "routes.json").read_bytes()
    assert cli_one_thread(["eval", "clips", str(folder), "--out", str(other), "--figure-clips", "0"]) == 0
    # ^ the embedded model, at its own defaults
    assert cli_one_thread(["eval", "clips", str(folder), "--out", str(changed), "--model", "tiny-random",
                           "--figure-clips", "0", "--guidance", "2"]) == 0
    capsys.readouterr()
    assert _route(out, "outside", "--outside", str(other)) == 2
    assert "--outside measured another model" in capsys.readouterr().err
    assert _route(out, "outside", "--outside", str(changed)) == 2
    assert "--outside was run with --guidance" in capsys.readouterr().err
    assert _route(out, "outside", "--outside", str(folder)) == 2
    assert "no results.json" in capsys.readouterr().err
    assert (out / "routes.json").read_bytes() == before


def test_bad_input_is_refused_and_leaves_the_ledger_whole(evaluation, tmp_path, capsys):
    out, _ = evaluation
    assert _route(out, "first") == 0
    before = (out / "routes.json").read_bytes()
    assert _route(out, "x", "--video", "fm25-plain-video") == 2
    assert "no run 'fm25-plain-video' (video)" in capsys.readouterr().err
    assert _route(tmp_path, "x") == 2  # a folder without an evaluation
    assert "no results.json" in capsys.readouterr().err
    assert _route(out, "x", "--share", "-1") == 2
    assert _route(out, "x", "--minutes", "nan") == 2
    assert (out / "routes.json").read_bytes() == before


@pytest.mark.parametrize("edit, says", [
    (lambda row: row.update(note=None), "route 1 ('half').note: expected text"),
    (lambda row: row.update(clips="abc"), "route 1 ('half').clips: expected a positive whole number"),
    (lambda row: row["compute"].update(minutes="80"), "compute.minutes: expected a finite number or null"),
    (lambda row: row.update(colour="red"), "unknown field(s) colour"),
    (lambda row: row.pop("source"), "missing field 'source'"),
])
def test_a_ledger_that_would_break_the_report_stops_the_evaluation_before_it_generates(
        tmp_path, capsys, edit, says):
    row = {"name": "half", "route": "r", "what": "w", "compute": {"device": "CPU", "minutes": 1, "steps": "1"},
           "split": "test", "clips": 2, "video": None, "unguided": None, "text": None, "source": "docs/x",
           "note": ""}
    edit(row)
    (tmp_path / "routes.json").write_text(json.dumps({"version": 1, "routes": [row]}))
    assert main(["eval", "synth", "--model", "tiny-random", "--clips", "2", "--out", str(tmp_path),
                 "--configs", "mf1-off-video"]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "results.md").exists()


def test_a_broken_ledger_is_refused_by_route_and_left_as_it_was(evaluation, tmp_path, capsys):
    out, _ = evaluation
    ledger = tmp_path / "routes.json"
    for text, says in (("{not json", "is not JSON"), ("[]", "ledger version"),
                       ('{"version": 1, "routes": {}}', '"routes" must be a list')):
        ledger.write_text(text)
        assert main(["eval", "route", "x", "--from", str(out), "--route", "r", "--what", "w", "--device", "CPU",
                     "--steps", "1", "--ledger", str(ledger)]) == 2
        assert says in capsys.readouterr().err and ledger.read_text() == text


def test_two_rows_of_one_name_are_refused(tmp_path):
    from mfmjt_core.evaluation.routes import Compute, LedgerError, Route, write_ledger

    row = Route("a", "r", "w", Compute("CPU", None, "1"), "test", 2, None, None, None, "docs/x")
    write_ledger(tmp_path / "routes.json", [row, row])
    with pytest.raises(LedgerError, match="more than one route named a"):
        read_ledger(tmp_path / "routes.json")


def test_a_row_needs_at_least_one_score(evaluation, capsys):
    out, _ = evaluation
    results = json.loads((out / "results.json").read_text())
    results["runs"] = [r for r in results["runs"] if r["name"] == "mf1-plain-video"]  # not the default's
    from mfmjt_core.evaluation.routes import Compute, LedgerError, route_from_results

    with pytest.raises(LedgerError, match="made none of the runs a row takes"):
        route_from_results(results, name="x", route="r", what="w", compute=Compute("CPU", None, "1"))
    row = route_from_results(results, name="x", route="r", what="w", compute=Compute("CPU", None, "1"),
                             video="mf1-plain-video")
    assert row.video.setting == "1 step, plain 1.5" and row.unguided is None and row.text is None


def test_prompt_only_column_follows_the_models_text_guidance(evaluation):
    """A model unguided with a picture but guided without one (text_guidance 3): the video column
    is the unguided run, the text column the guided prompt-only run."""
    from mfmjt_core.evaluation.routes import Compute, route_from_results

    out, _ = evaluation
    results = json.loads((out / "results.json").read_text())
    results["models"]["mf"]["defaults"] = {"guidance": 1.0, "rescale": "zero_star", "text_guidance": 3.0}
    row = route_from_results(results, name="x", route="r", what="w", compute=Compute("CPU", None, "1"))
    assert row.video.setting == "1 step, unguided" and row.text.setting.startswith("1 step, zero_star")


def test_cells_keep_the_table_whole():
    from mfmjt_core.evaluation.routes import Compute, Route, render_routes

    row = Route("a|b", "r", "back\\|slash\r\nnew line", Compute("CPU", None, "1"), "test", 2, None, None, None,
                "docs/x")
    line = render_routes([row])[-1]
    assert "\n" not in line and "\r" not in line
    # every unescaped pipe is a cell border: 10 cells, 11 borders
    import re

    assert len(re.findall(r"(?<!\\)\|", line.replace("\\\\", ""))) == 11


def test_the_section_goes_before_the_figure_or_at_the_end():
    section = [SECTION_TITLE, "", "| a |"]
    with_figure = "# r\n\n## Bars\n\n- x\n\n![fig](f.png)\n"
    once = replace_section(with_figure, section)
    assert once.index(SECTION_TITLE) < once.index("![fig]")
    twice = replace_section(once, [SECTION_TITLE, "", "| b |"])
    assert twice.count(SECTION_TITLE) == 1 and "| b |" in twice and "| a |" not in twice
    assert replace_section("# r\n", section).rstrip().endswith("| a |")
    assert replace_section(once, []) .count(SECTION_TITLE) == 0
