"""The Resolve self-test (Python and Lua) against the fake: every check PASSes on the documented
facts, and each `Quirks` toggle (a Resolve that behaves otherwise) makes its check FAIL and say
what it saw; the scratch timeline, clip, bin, presets and files are gone afterwards and the
user's timeline, page and render settings are back."""

from __future__ import annotations

import runpy
import sys
import tempfile
from fractions import Fraction

import pytest
from fake_resolve import Quirks, Resolve, timeline_2997, timeline_23976

NAMES = ["methods", "append", "marks", "markers", "stereo", "render snapshot", "clean-up"]

# quirk -> (the checks that must FAIL, words their line must hold); every other check PASSes
QUIRKS = {
    "marks_absolute": (Quirks(marks_absolute=True), {"marks": "not relative"}),
    "markers_absolute": (Quirks(markers_absolute=True), {"markers": "not relative"}),
    # a relative recordFrame also stretches the timeline, so absolute marks fit in it as well
    "record_frame_relative": (Quirks(record_frame_relative=True), {
        "append": "recordFrame is not absolute", "marks": "cannot be told", "markers": "cannot be told"}),
    "end_frame_inclusive": (Quirks(end_frame_inclusive=True), {"append": "endFrame is inclusive"}),
    "wav_frame_rate": (Quirks(wav_frame_rate=Fraction(25)), {"append": "counts 50 frames"}),
    "add_track_mono": (Quirks(add_track_mono=True), {"stereo": "the new one 'mono'"}),
    "presets_keep_only_format": (Quirks(presets_keep_only_format=True), {"render snapshot": "not back: FormatHeight"}),
    "dir_hides_methods": (Quirks(dir_hides_methods=True), {"methods": "dir() lists 0 of 18"}),
}


def _user_state(resolve):
    project = resolve.project
    return (resolve.GetCurrentPage(), project.GetCurrentTimeline(), dict(project.state), sorted(project.presets),
            project.mode, project.jobs.copy(), [f.name for f in project.media_pool.root.subfolders],
            project.media_pool.GetCurrentFolder(), len(project.timelines))


@pytest.fixture
def scratch_tmp(installed, tmp_path, monkeypatch):
    """The self-test's temporary folder goes under tmp_path, to see it removed (and mfmjt_resolve
    imports from the installed copy, as in the other Resolve tests)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _python_selftest(resolve):
    from mfmjt_resolve.selftest import main

    lines: list[str] = []
    code = main(resolve, log=lines.append)
    return code, {line.split(":")[0].split(" ", 1)[1]: line for line in lines if line.split(" ")[0] in
                  ("PASS", "FAIL", "SKIP")}


@pytest.mark.parametrize("make_timeline", [timeline_23976, timeline_2997])
def test_every_check_passes_on_the_documented_facts_and_leaves_nothing(make_timeline, scratch_tmp):
    resolve = Resolve(make_timeline())
    resolve.project.presets["My preset"] = {"format": "mov", "codec": "H265", "TargetDir": "/mine"}
    before = _user_state(resolve)
    code, lines = _python_selftest(resolve)
    assert code == 0, lines
    assert list(lines) == NAMES and all(line.startswith("PASS") for line in lines.values()), lines
    assert _user_state(resolve) == before
    assert list(scratch_tmp.iterdir()) == []  # the WAV and render folders are gone
    start = resolve.project.GetCurrentTimeline().GetStartFrame()
    assert f"recordFrame {start + 24} landed at {start + 24}" in lines["append"]


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_each_quirk_fails_its_check_and_says_what_it_saw(quirk, scratch_tmp):
    quirks, failing = QUIRKS[quirk]
    resolve = Resolve(timeline_23976(), quirks=quirks)
    before = _user_state(resolve)
    code, lines = _python_selftest(resolve)
    assert code == 1
    assert {name for name, line in lines.items() if line.startswith("FAIL")} == set(failing), lines
    for name, words in failing.items():
        assert words in lines[name], lines[name]
    assert not any(line.startswith("SKIP") for line in lines.values())
    after = _user_state(resolve)
    if quirk == "presets_keep_only_format":  # what the check finds: a snapshot cannot restore settings
        after, before = after[:2] + after[3:], before[:2] + before[3:]
    assert after == before


def test_a_refused_scratch_timeline_is_one_message(installed):
    from mfmjt_resolve.selftest import main

    resolve = Resolve(timeline_23976())
    resolve.project.media_pool.CreateEmptyTimeline = lambda name: None
    before = _user_state(resolve)
    lines: list[str] = []
    assert main(resolve, log=lines.append) == 1
    assert lines[-1] == "MF-MJT self-test: Resolve refused to create a scratch timeline (CreateEmptyTimeline)"
    assert _user_state(resolve) == before  # its bin is gone too


def test_installed_menu_script_runs_with_the_resolve_global(installed, capsys):
    resolve = Resolve(timeline_2997())
    runpy.run_path(str(installed["scripts"] / "MF-MJT Self-test.py"), init_globals={"resolve": resolve})
    out = capsys.readouterr().out
    assert out.count("PASS ") == len(NAMES) and "FAIL" not in out, out


def test_lua_selftest_agrees_with_the_python_one(installed, lua, scratch_tmp):
    script = installed["scripts"] / "MF-MJT Self-test (Lua).lua"
    cases = {"facts": (Quirks(), {})} | {name: QUIRKS[name] for name in
                                         ("marks_absolute", "record_frame_relative", "add_track_mono",
                                          "presets_keep_only_format", "wav_frame_rate")}
    for name, (quirks, failing) in cases.items():
        resolve = Resolve(timeline_23976(), quirks=quirks)
        before = _user_state(resolve)
        lua.run_script(script, resolve, [])
        outcome = lua.to_python(lua.lua.globals().MFMJT_SELFTEST)
        assert "error" not in outcome, (name, outcome)
        checks = {c["name"]: c for c in outcome["checks"]}
        assert list(checks) == NAMES, name
        assert {n for n, c in checks.items() if c["status"] == "FAIL"} == set(failing), (name, checks)
        for check, words in failing.items():
            assert words in checks[check]["saw"], (name, checks[check]["saw"])
        after = _user_state(resolve)
        if name == "presets_keep_only_format":  # the finding itself: settings cannot be restored
            after, before = after[:2] + after[3:], before[:2] + before[3:]
        assert after == before, name
    assert not any(p.suffix == ".wav" for p in (installed["lib"] / "renders").iterdir())


def test_the_command_reaches_resolve_through_its_scripting_module(tmp_path, monkeypatch, capsys):
    """`mfmjt resolve-selftest` imports DaVinciResolveScript from RESOLVE_SCRIPT_API/Modules (here a
    module that hands out the fake, as Studio's hands out the running Resolve)."""
    from mfmjt_cli.entry import main

    modules = tmp_path / "Scripting" / "Modules"
    modules.mkdir(parents=True)
    (modules / "DaVinciResolveScript.py").write_text(
        "import fake_resolve\n"
        "def scriptapp(name):\n"
        "    return fake_resolve.Resolve(fake_resolve.timeline_2997()) if name == 'Resolve' else None\n")
    monkeypatch.setenv("RESOLVE_SCRIPT_API", str(tmp_path / "Scripting"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "DaVinciResolveScript", raising=False)
    assert main(["resolve-selftest"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS ") == len(NAMES), out
    sys.modules.pop("DaVinciResolveScript", None)


def test_the_command_without_resolve_says_where_to_run_it(tmp_path, monkeypatch, capsys):
    from mfmjt_cli.entry import main

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "DaVinciResolveScript", raising=False)
    assert main(["resolve-selftest", "--api-dir", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "cannot reach DaVinci Resolve" in err and "MF-MJT Self-test (Lua)" in err
    assert "Traceback" not in err
