"""The Lua menu script (free edition) end to end in LuaJIT 2.1 against the fake Resolve: it
renders, runs the installed `mfmjt resolve-bridge` against the real daemon, imports and places."""

from __future__ import annotations

import wave
from fractions import Fraction

from fake_resolve import Resolve, TimelineItem, timeline_2997, timeline_23976


def _script(installed):
    return installed["scripts"] / "MF-MJT Sound (Lua).lua"


def test_lua_script_places_sound_at_the_absolute_in_frame_2997(installed, lua):
    timeline = timeline_2997()
    timeline.SetMarkInOut(45, 104)  # 60 frames from 01:00:01:15
    timeline.AddMarker(50, "Green", "steps", "footsteps on gravel", 1)
    timeline.tracks["audio"][0]["items"].append(TimelineItem("music.wav", 108000, 300))  # A1 is taken
    resolve = Resolve(timeline)
    waits: list[float] = []
    outcome = lua.run_script(_script(installed), resolve, waits)

    assert "error" not in outcome, outcome
    assert (outcome["record_in"], outcome["frames"], outcome["track"]) == (108045, 60, 2)
    with wave.open(outcome["wav"], "rb") as w:
        assert abs(Fraction(w.getnframes(), w.getframerate()) - Fraction(60 * 1001, 30000)) < Fraction(1, 48000)
    assert outcome["wav"].startswith(str(installed["audio"]))  # the bridge used resolve.json's folder
    (item,) = timeline.GetItemListInTrack("audio", 2)
    assert (item.GetStart(), item.GetDuration()) == (108045, 60)
    project = resolve.project
    assert [(r["first"], r["last"], r["video"]) for r in project.render_log] == [(108045, 108104, True)]
    assert not project.render_log[0]["path"].exists()
    assert project.state["audio_only"] and project.jobs == {} and resolve.GetCurrentPage() == "edit"
    assert "MF-MJT Render" in project.presets and len(project.presets) == 3
    assert waits and all(w == 0.25 for w in waits)  # polled the job through bmd.wait


def test_lua_script_at_23976_and_its_errors(installed, lua):
    timeline = timeline_23976()
    resolve = Resolve(timeline)
    outcome = lua.run_script(_script(installed), resolve, [])
    assert "set In and Out marks" in outcome["error"]

    timeline.SetMarkInOut(24, 71)
    resolve.project.media_pool.drop_next_append = True
    outcome = lua.run_script(_script(installed), resolve, [])
    assert "did not place the sound on audio track 1 at frame 86424" in outcome["error"]

    outcome = lua.run_script(_script(installed), resolve, [])
    assert "error" not in outcome, outcome
    (item,) = timeline.GetItemListInTrack("audio", 1)
    assert (item.GetStart(), item.GetDuration()) == (86424, 48)
