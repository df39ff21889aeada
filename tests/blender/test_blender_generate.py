"""End to end in headless Blender: scenes with movie strips, the operators and the timer
callback, against a real daemon. The model's audio is noise-like, but its timing is real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from fractions import Fraction

import pytest
from blender_testing import add_color, add_movie, import_bpy, sound_strips, span, trim, wait_for_jobs, wav_info

bpy = import_bpy()


def _check_take(scene, strip, start: int, frames: int, prompt: str, seed: int, channel: int) -> None:
    """A generated sound strip: its place, its length (and its file's) within one frame, its name."""
    fps = Fraction(scene.render.fps) / Fraction(scene.render.fps_base).limit_denominator(1001)
    assert strip.channel == channel
    first, end = span(strip)
    assert first == start
    assert abs((end - first) - frames) <= 1, f"strip covers {end - first} frames, the range {frames}"
    assert strip.name == f"{prompt} (seed {seed})"
    assert strip["mfmjt_seed"] == seed and strip["mfmjt_prompt"] == prompt
    assert strip.sound.filepath.startswith("//mfmjt_audio/")
    path = bpy.path.abspath(strip.sound.filepath)
    assert os.path.isfile(path)
    samples, rate, _channels = wav_info(path)
    assert rate == 48000
    assert abs(samples / rate * fps - frames) <= 1, f"audio lasts {samples / rate * fps:.2f} frames, not {frames}"


def test_trimmed_strip_through_the_operator(extension, prefs, scene, videos):
    movie = add_movie(scene, videos["24"], channel=2, frame_start=10, select=True)  # [10, 58)
    trim(movie, 16, 40)  # trimmed both sides: 24 frames
    scene.mfmjt.prompt, scene.mfmjt.seed, scene.mfmjt.lock_seed = "footsteps on gravel", 1234, True
    t0 = time.perf_counter()
    assert bpy.ops.sequencer.mfmjt_generate_selection() == {"FINISHED"}
    # Submitted, not waited for: nothing is placed before the timer runs.
    assert time.perf_counter() - t0 < 10.0
    assert extension.jobs.pending_for(scene) and sound_strips(scene) == []
    assert bpy.app.timers.is_registered(extension.jobs.tick)
    assert scene.mfmjt.status.startswith("Sent frames 16-39 (selection, 1.00 s)")
    wait_for_jobs(extension, scene)
    assert scene.mfmjt.status == "Done: 1 take(s) at frame 16, channel 3", scene.mfmjt.status
    (take,) = sound_strips(scene)
    _check_take(scene, take, 16, 24, "footsteps on gravel", 1234, channel=3)
    assert scene.mfmjt.last_result.startswith("1.00 s, seed 1234, model ")
    assert scene.mfmjt.last_timings.startswith("render ") and scene.mfmjt.progress == 1.0
    assert extension.jobs.tick() is None  # nothing left: the timer unregisters itself


def test_24fps_movie_in_a_30fps_scene(extension, prefs, scene, videos):
    scene.render.fps = 30
    movie = add_movie(scene, videos["24"], channel=1, frame_start=1, select=True)
    frames = span(movie)[1] - span(movie)[0]  # Blender keeps the clip's 48 frames: 1.6 s at 30 fps
    scene.mfmjt.prompt, scene.mfmjt.seed, scene.mfmjt.lock_seed = "door slam", 5, True
    assert extension.generate.for_selection(scene, extension.preferences.daemon_config(bpy.context), "mfmjt_vse")
    wait_for_jobs(extension, scene)
    (take,) = sound_strips(scene)
    _check_take(scene, take, 1, frames, "door slam", 5, channel=2)


@pytest.mark.parametrize("fps, base", [(30000, 1001.0), (30, 1.001)])
def test_2997_scene_either_spelling(extension, prefs, scene, videos, fps, base, monkeypatch):
    scene.render.fps, scene.render.fps_base = fps, base
    movie = add_movie(scene, videos["2997"], channel=1, frame_start=101, select=True)
    trim(movie, end=101 + 50)  # 50 frames = 1001/600 s = 1.66833 s
    scene.mfmjt.prompt, scene.mfmjt.seed, scene.mfmjt.lock_seed = "crowd murmur", 77, True
    sent, results = [], []
    client_class, place = extension.daemon_link.client_module().Client, extension.jobs.place_result
    submit = client_class.submit

    def spy_submit(self, video, **request):
        sent.append((video, request))
        return submit(self, video, **request)

    def spy_place(scene, result, *rest):
        results.append(result)
        return place(scene, result, *rest)

    monkeypatch.setattr(client_class, "submit", spy_submit)
    monkeypatch.setattr(extension.jobs, "place_result", spy_place)
    assert bpy.ops.sequencer.mfmjt_generate_selection() == {"FINISHED"}
    ((video, request),) = sent
    assert video.endswith(".mp4") and os.path.isfile(video)  # the rendered range, on this machine
    assert (request["start_frame"], request["end_frame"], request["fps"]) == (0, 50, (30000, 1001))
    wait_for_jobs(extension, scene)
    assert results[0].duration == pytest.approx(50 * 1001 / 30000, abs=1e-9)
    assert not os.path.exists(video)  # the temporary render is gone with the job
    (take,) = sound_strips(scene)
    _check_take(scene, take, 101, 50, "crowd murmur", 77, channel=2)


def test_several_selected_strips_and_variations(extension, prefs, scene, videos):
    add_movie(scene, videos["24"], channel=1, frame_start=10, select=True)  # [10, 58)
    add_movie(scene, videos["30"], channel=2, frame_start=70, select=True)  # [70, 130) as 60 frames
    add_color(scene, channel=3, start=100, end=200)  # not selected, but channel 3 is busy in the range
    add_color(scene, channel=6, start=500, end=600)  # elsewhere: no conflict
    scene.mfmjt.prompt, scene.mfmjt.seed, scene.mfmjt.lock_seed = "wind", 40, True
    scene.mfmjt.variations = 2
    assert bpy.ops.sequencer.mfmjt_generate_selection() == {"FINISHED"}
    wait_for_jobs(extension, scene)
    takes = sound_strips(scene)
    assert [t.channel for t in takes] == [4, 5]
    _check_take(scene, takes[0], 10, 120, "wind", 40, channel=4)
    _check_take(scene, takes[1], 10, 120, "wind", 41, channel=5)
    assert takes[0].sound.filepath != takes[1].sound.filepath


def test_preview_range_without_selection(extension, prefs, scene, videos):
    add_movie(scene, videos["24"], channel=1, frame_start=1)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 20, 44
    scene.mfmjt.prompt, scene.mfmjt.seed, scene.mfmjt.lock_seed = "birds", 9, True
    assert bpy.ops.sequencer.mfmjt_generate_selection() == {"FINISHED"}
    wait_for_jobs(extension, scene)
    (take,) = sound_strips(scene)
    _check_take(scene, take, 20, 25, "birds", 9, channel=2)


def test_text_to_audio_at_the_playhead(extension, prefs, scene, videos):
    add_movie(scene, videos["24"], channel=3, frame_start=30)  # picture under the playhead
    scene.frame_current = 37
    scene.mfmjt.duration = 1.5
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"CANCELLED"}  # no prompt yet
    assert scene.mfmjt.status.startswith("Write a prompt first")
    scene.mfmjt.prompt, scene.mfmjt.seed, scene.mfmjt.lock_seed = "thunder", 3, True
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
    wait_for_jobs(extension, scene)
    (take,) = sound_strips(scene)
    _check_take(scene, take, 37, 36, "thunder", 3, channel=4)


def test_seed_lock_repeats_and_unlock_draws_new(extension, prefs, scene):
    settings = scene.mfmjt
    settings.prompt, settings.duration, settings.seed, settings.lock_seed = "rain", 0.5, 2024, True
    seeds, files = [], []
    for lock in (True, True, False):
        settings.lock_seed = lock
        scene.frame_current = 1 + 20 * len(seeds)
        assert extension.generate.from_prompt(scene, extension.preferences.daemon_config(bpy.context), "mfmjt_vse")
        wait_for_jobs(extension, scene)
        take = max(sound_strips(scene), key=lambda s: span(s)[0])
        seeds.append(take["mfmjt_seed"])
        with open(bpy.path.abspath(take.sound.filepath), "rb") as f:
            files.append(f.read())
    assert seeds[:2] == [2024, 2024] and files[0] == files[1]
    assert seeds[2] != 2024 and settings.seed == seeds[2] and files[2] != files[0]


def test_cancel_stops_the_job(extension, prefs, scene):
    scene.mfmjt.prompt, scene.mfmjt.duration = "long ambience", 300.0  # dozens of windows: many seconds
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
    deadline = time.monotonic() + 30
    while scene.mfmjt.status.startswith(("Sent", "Accepted", "Queued")) and time.monotonic() < deadline:
        extension.jobs.tick()  # until the daemon reports it running
        time.sleep(0.02)
    assert extension.jobs.pending_for(scene), scene.mfmjt.status
    assert bpy.ops.sequencer.mfmjt_cancel() == {"FINISHED"}
    assert scene.mfmjt.status == "Cancelling, waiting for the daemon to confirm"
    wait_for_jobs(extension, scene, timeout=20)  # until the daemon confirms
    assert scene.mfmjt.status == "Cancelled: you cancelled"
    # The daemon heard it: the job stops (a 300 s job would keep it busy far longer).
    client = extension.daemon_link.client_for(extension.preferences.daemon_config(bpy.context))
    deadline = time.monotonic() + 20
    while (counters := client.status())["running"] and time.monotonic() < deadline:
        extension.jobs.tick()
        time.sleep(0.1)
    assert counters["running"] == 0 and counters["cancelled"] >= 1, counters
    assert sound_strips(scene) == [] and scene.mfmjt.status == "Cancelled: you cancelled"


def test_check_daemon_reports_the_model(extension, prefs, scene):
    assert bpy.ops.sequencer.mfmjt_check_daemon() == {"FINISHED"}
    deadline = time.monotonic() + 15
    while scene.mfmjt.daemon_status == "Checking..." and time.monotonic() < deadline:
        extension.jobs.tick()
        time.sleep(0.02)
    assert scene.mfmjt.daemon_status.startswith("Ready: mfmjt ") and " on cpu" in scene.mfmjt.daemon_status


UNSAVED_SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import bpy
import addon_utils
ext = addon_utils.enable("mfmjt_vse", default_set=True, handle_error=None)
bpy.context.preferences.addons["mfmjt_vse"].preferences.address = sys.argv[2]
scene = bpy.context.scene
scene.mfmjt.prompt, scene.mfmjt.duration = "hum", 0.5
ok = ext.generate.from_prompt(scene, ext.preferences.daemon_config(bpy.context), "mfmjt_vse")
deadline = time.monotonic() + 60
while ext.jobs.pending_for(scene) and time.monotonic() < deadline:
    ext.jobs.tick()
    time.sleep(0.02)
ed = scene.sequence_editor
print(json.dumps({"ok": ok, "blend": bpy.data.filepath, "status": scene.mfmjt.status,
                  "files": [s.sound.filepath for s in ed.strips]}))
"""


def test_unsaved_file_writes_to_the_user_folder(extensions_dir, daemon, tmp_path):
    # A child Blender with a new, unsaved file. (Not `wm.read_homefile` here: after movie strips
    # were freed that way, the bpy module deadlocks at exit in its delayed movie-close thread.)
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "user")}
    done = subprocess.run([sys.executable, "-c", UNSAVED_SCRIPT, str(extensions_dir), daemon], check=False,
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["blend"] == "" and report["status"].startswith("Done: 1 take(s)")
    (path,) = report["files"]
    assert path.startswith(str(tmp_path / "user")) and os.path.isfile(path)
