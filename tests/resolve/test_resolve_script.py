"""The Python menu script end to end: fake Resolve (timeline at 86400 / 108000), real renders,
real daemon, real WAVs; the clip must land at the absolute In frame on a free stereo track."""

from __future__ import annotations

import runpy
import wave
from fractions import Fraction

import pytest
from fake_resolve import Resolve, TimelineItem, timeline_2997, timeline_23976


def _settings(installed, **overrides):
    from mfmjt_resolve.sound_for_range import load_settings

    settings = load_settings(installed["lib"] / "resolve.json")
    return settings.__class__(**{**settings.__dict__, **overrides})


def _wav_seconds(path) -> Fraction:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 3, 48_000)
        return Fraction(w.getnframes(), w.getframerate())


def _run(resolve, settings):
    from mfmjt_resolve.sound_for_range import run

    lines: list[str] = []
    outcome = run(resolve, settings, log=lines.append, sleep=lambda s: None)
    return outcome, lines


@pytest.mark.parametrize("make_timeline, mark_in, mark_out", [
    (timeline_23976, 48, 95),    # 48 frames = 2.002 s from 01:00:02:00
    (timeline_2997, 30, 89),     # 60 frames = 2.002 s
])
def test_range_is_rendered_generated_and_placed_at_its_absolute_frame(installed, make_timeline, mark_in, mark_out):
    timeline = make_timeline()
    timeline.SetMarkInOut(mark_in, mark_out)
    timeline.AddMarker(mark_in + 5, "Blue", "door", "a wooden door slams", 1)
    resolve = Resolve(timeline)
    project = resolve.project
    outcome, lines = _run(resolve, _settings(installed, seed=11))

    frames = mark_out - mark_in + 1
    absolute_in = timeline.start + mark_in
    # rendered with absolute marks, Out inclusive, small and with a picture
    assert project.render_log == [
        {
            "first": absolute_in,
            "last": absolute_in + frames - 1,
            "width": 640,
            "height": 360,
            "video": True,
            "path": project.render_log[0]["path"],
        }
    ]
    assert not project.render_log[0]["path"].exists()  # the temporary render is gone
    # the WAV is exactly the range long, in the audio folder
    assert outcome.wav.parent == installed["audio"]
    assert abs(_wav_seconds(outcome.wav) - Fraction(frames) / timeline.fps) < Fraction(1, 48_000)
    assert outcome.seed == 11
    # imported into the MF-MJT bin, and the user's current folder is kept
    pool = project.media_pool
    bins = {f.GetName(): f for f in pool.root.GetSubFolderList()}
    assert [c.GetName() for c in bins["MF-MJT"].GetClipList()] == [outcome.wav.name]
    assert pool.GetCurrentFolder() is pool.root
    # on the empty stereo track A1, at the absolute In frame, as long as the range
    (item,) = timeline.GetItemListInTrack("audio", 1)
    assert (item.GetStart(), item.GetDuration(), item.GetName()) == (absolute_in, frames, outcome.wav.name)
    assert outcome.placed.track == 1
    assert "a wooden door slams" in lines[0]
    assert outcome.transport == "direct"


def test_user_render_state_page_and_presets_are_restored(installed):
    timeline = timeline_23976()
    timeline.SetMarkInOut(0, 23)
    resolve = Resolve(timeline)
    project = resolve.project
    before = dict(project.state)
    project.SetCurrentRenderMode(0)
    _run(resolve, _settings(installed))
    assert project.state == before  # the user's audio-only settings are back
    assert project.GetCurrentRenderMode() == 0
    assert resolve.GetCurrentPage() == "edit"
    assert project.jobs == {}
    assert sorted(project.presets) == ["Audio Only", "H.264 Master", "MF-MJT Render"]  # snapshot deleted
    assert project.presets["MF-MJT Render"]["ExportVideo"] is True
    # second run loads the pinned preset instead of creating it again
    timeline.SetMarkInOut(24, 47)
    _run(resolve, _settings(installed))
    assert len(project.render_log) == 2 and project.render_log[1]["video"]


def test_occupied_and_mono_tracks_are_skipped_for_a_new_stereo_track(installed):
    timeline = timeline_2997()
    timeline.SetMarkInOut(60, 119)
    start = timeline.start + 60
    timeline.tracks["audio"][0]["items"].append(TimelineItem("dialogue.wav", start - 10, 30))  # A1: dialogue
    timeline.add_audio_track("mono")  # A2 mono, empty
    timeline.add_audio_track("stereo", locked=True)  # A3 locked
    resolve = Resolve(timeline)
    outcome, _ = _run(resolve, _settings(installed, transport="direct"))
    assert outcome.placed.track == 4 and timeline.GetTrackCount("audio") == 4
    assert timeline.GetTrackSubType("audio", 4) == "stereo"
    assert [i.GetName() for i in timeline.GetItemListInTrack("audio", 1)] == ["dialogue.wav"]
    (item,) = timeline.GetItemListInTrack("audio", 4)
    assert item.GetStart() == start and item.GetDuration() == 60


def test_a_silently_dropped_clip_is_reported(installed):
    from mfmjt_resolve.resolve_compat import ResolveScriptError

    timeline = timeline_23976()
    timeline.SetMarkInOut(10, 33)
    resolve = Resolve(timeline)
    resolve.project.media_pool.drop_next_append = True  # AppendToTimeline returns a phantom item
    with pytest.raises(ResolveScriptError, match="did not place the sound on audio track 1 at frame 86410"):
        _run(resolve, _settings(installed))
    assert timeline.GetItemListInTrack("audio", 1) == []


def test_no_marks_is_an_instruction(installed):
    from mfmjt_resolve.resolve_compat import ResolveScriptError

    resolve = Resolve(timeline_23976())
    with pytest.raises(ResolveScriptError, match="set In and Out marks"):
        _run(resolve, _settings(installed))
    assert resolve.project.render_log == []


def test_bridge_transport_gives_the_same_placement(installed):
    timeline = timeline_23976()
    timeline.SetMarkInOut(100, 147)
    resolve = Resolve(timeline)
    outcome, lines = _run(resolve, _settings(installed, transport="bridge", seed=5, prompt="rain"))
    assert outcome.transport == "bridge" and outcome.seed == 5
    assert abs(_wav_seconds(outcome.wav) - Fraction(48 * 1001, 24000)) < Fraction(1, 48_000)
    (item,) = timeline.GetItemListInTrack("audio", 1)
    assert item.GetStart() == 86500 and item.GetDuration() == 48
    phases = ("queued", "encoding", "sampling", "decoding")  # the job state machine's lines
    assert any(p in line for line in lines for p in phases), lines  # the bridge's progress reached the log


def test_installed_menu_script_runs_with_the_resolve_global(installed, capsys):
    timeline = timeline_2997()
    timeline.SetMarkInOut(0, 29)
    resolve = Resolve(timeline, product="DaVinci Resolve Studio", polls_per_render=2)
    runpy.run_path(str(installed["scripts"] / "MF-MJT Sound.py"), init_globals={"resolve": resolve})
    out = capsys.readouterr().out
    assert "placed" in out, out
    (item,) = timeline.GetItemListInTrack("audio", 1)
    assert item.GetStart() == 108000 and item.GetDuration() == 30
