"""Sounds happen where the picture shows their cause, and nowhere else."""

from __future__ import annotations

import dataclasses

import numpy as np

from mfmjt_core.synth import WorldConfig, make_clip
from mfmjt_core.synth.physics import Simulation
from mfmjt_core.synth.render import render, render_background
from mfmjt_core.synth.sound import frame_sample

# No fixtures and no pops: only bodies make sound.
BODIES_ONLY = WorldConfig(p_machine=0, p_lamp=0, p_appear=0, p_silent=0)
# One object, dropped from a hold: silent until it first hits the floor.
ONE_DROP = dataclasses.replace(BODIES_ONLY, max_objects=1, p_slide=0, p_rest=0)
# Nothing that can make a sound: resting objects, a balloon and a changing background.
DISTRACTORS = WorldConfig(p_drop=0, p_slide=0, p_rest=1, p_appear=0, p_machine=0, p_lamp=0,
                          p_balloon=1, p_background_change=1)


def _log_energy(x: np.ndarray, width: int) -> np.ndarray:
    """log of the mean power over the `width` samples ending at each index (causal)."""
    power = np.convolve(x.astype(np.float64) ** 2, np.ones(width) / width)[: x.size]
    return np.log(power + 1e-10)


def test_energy_rises_at_each_transient_event():
    """Estimate each onset from the waveform alone: where log energy jumps the most within
    +-20 ms of the event. Events right after another event (< 150 ms) are skipped: their
    rise can hide under the first one."""
    offsets_ms, rises = [], []
    for seed in range(40):
        clip = make_clip(seed, with_frames=False)
        sr, w = clip.sample_rate, 32  # 2 ms windows
        energy = _log_energy(clip.audio, w)
        starts = [e.time_s for e in clip.events]
        for e in clip.events:
            if e.kind not in ("impact", "collision", "appear", "flash"):
                continue
            if any(e.time_s - 0.15 <= t < e.time_s for t in starts):
                continue
            n0 = int(frame_sample(e.frame, clip.fps, sr))
            lo, hi = n0 - 320, n0 + 320
            if lo < w:
                continue
            jump = energy[lo + w:hi] - energy[lo:hi - w]  # energy of the next 2 ms vs the last 2
            estimate = lo + int(np.argmax(jump))
            offsets_ms.append((estimate - n0) / sr * 1000)
            rises.append(jump.max())
    offsets = np.abs(np.array(offsets_ms))
    assert len(offsets) > 150
    assert np.mean(offsets <= 3.0) > 0.95, np.percentile(offsets, [50, 90, 95, 99])
    assert np.median(rises) > np.log(20)  # a typical onset is a 20x jump in power


def test_silent_until_first_impact_then_sound_at_that_sample():
    checked = 0
    for seed in range(30):
        clip = make_clip(seed, config=ONE_DROP, with_frames=False)
        impacts = [e for e in clip.events if e.kind == "impact"]
        if not impacts:
            continue
        assert clip.events[0] == impacts[0]  # the fall before it is silent
        n0 = int(frame_sample(impacts[0].frame, clip.fps, clip.sample_rate))
        assert not clip.audio[:n0].any()
        assert np.abs(clip.audio[n0:n0 + 16]).max() > 0.05
        checked += 1
    assert checked >= 20


def test_distractor_motion_is_exactly_silent():
    for seed in range(4):
        clip = make_clip(seed, config=DISTRACTORS)
        assert clip.events == ()
        assert not clip.audio.any()
        moving = np.abs(np.diff(clip.frames.astype(np.int16), axis=0)).max(axis=(1, 2, 3))
        assert np.mean(moving > 0) > 0.5  # the balloon and background move on most frames


def _without_bodies(clip):
    """Frames of the same scene with the balls and cubes left out."""
    plan = dataclasses.replace(clip.scene, bodies=())
    empty = Simulation(np.zeros((0, plan.n_frames, 2), np.float32),
                       np.zeros((0, plan.n_frames), bool), np.zeros((0, plan.n_frames)), ())
    return render(plan, empty)


def test_frame_of_a_floor_impact_shows_the_object_touching_the_floor():
    checked = 0
    for seed in range(12):
        clip = make_clip(seed, config=BODIES_ONLY)
        fy = clip.scene.geometry.floor_y
        empty = None
        for e in clip.events:
            if e.kind != "impact" or e.surface != "floor":
                continue
            empty = _without_bodies(clip) if empty is None else empty
            size = clip.objects[e.object_id].size_px
            x, y = clip.positions[e.object_id, e.frame]
            assert y + size / 2 == fy  # geometry: bottom edge on the floor line
            col = int(np.floor(x + 0.5))
            diff = np.abs(clip.frames[:, fy - 1, col].astype(int) - empty[:, fy - 1, col]).sum(-1)
            assert diff[e.frame] > 30  # the object covers the row just above the floor
            # ... and did not on the frame before, unless it was already within a pixel of it
            bottom_before = clip.positions[e.object_id, e.frame - 1, 1] + size / 2
            assert diff[e.frame - 1] < 30 or bottom_before > fy - 1
            checked += 1
    assert checked > 15


def test_frame_of_a_collision_shows_the_objects_touching():
    checked = 0
    for seed in range(40):
        clip = make_clip(seed, config=BODIES_ONLY, with_frames=False)
        collisions = [e for e in clip.events if e.kind == "collision"]
        if not collisions:
            continue
        clip = make_clip(seed, config=BODIES_ONLY)
        empty = _without_bodies(clip)
        for e in collisions:
            a, b = clip.positions[e.object_id, e.frame], clip.positions[e.other_id, e.frame]
            # Walk from one centre to the other: no background pixel between them (1 px slack).
            n = int(np.ceil(np.hypot(*(b - a)))) + 1
            pts = np.floor(a + (b - a) * np.linspace(0, 1, n)[:, None] + 0.5).astype(int)
            frame, bg = clip.frames[e.frame].astype(int), empty[e.frame].astype(int)
            diff = np.abs(frame[pts[:, 1], pts[:, 0]] - bg[pts[:, 1], pts[:, 0]]).sum(-1)
            assert np.sum(diff < 12) <= 1, (seed, e)
            checked += 1
    assert checked >= 5


def test_sustained_sources_sound_only_while_visible():
    config = WorldConfig(max_objects=1, p_drop=0, p_slide=0, p_rest=1, p_appear=0, p_machine=1,
                         p_lamp=1, p_balloon=0, p_silent=0)
    checked = 0
    for seed in range(20):
        clip = make_clip(seed, config=config, with_frames=False)
        sr = clip.sample_rate
        on = np.zeros(clip.audio.size, bool)
        for e in clip.events:
            assert e.kind in ("hum", "tone", "flash")
            n0 = int(frame_sample(e.frame, clip.fps, sr))
            n1 = int(frame_sample(e.frame + round(e.duration_s * float(clip.fps)), clip.fps, sr))
            on[n0:n1] = True
        assert not clip.audio[~on].any()
        assert np.sqrt(np.mean(clip.audio[on] ** 2)) > 0.02
        checked += bool(clip.events)
    assert checked > 10


def test_onsets_and_impact_materials():
    clip = next(c for c in (make_clip(s, with_frames=False) for s in range(50))
                if any(e.kind == "collision" for e in c.events))
    onsets = clip.onsets(("impact", "collision"))
    expected = sorted({e.time_s for e in clip.events if e.kind in ("impact", "collision")})
    assert onsets.tolist() == expected
    assert np.all(np.diff(clip.onsets()) > 0)
    rows = clip.impact_materials(("impact", "collision"))
    n_imp = sum(e.kind == "impact" for e in clip.events)
    n_col = sum(e.kind == "collision" for e in clip.events)
    assert len(rows) == n_imp + 2 * n_col
    assert {m for _, m in rows} <= {"wood", "metal", "glass", "rubber"}
    # a machine humming from the first frame has no audible onset
    hummer = next(c for c in (make_clip(s, with_frames=False) for s in range(80))
                  if any(e.kind == "hum" and e.frame == 0 for e in c.events))
    assert 0.0 not in hummer.onsets(("hum",))
    assert 0.0 in hummer.onsets(("hum",), include_start=True)


def test_machine_is_visible_exactly_while_it_hums_and_its_light_follows_the_hum():
    config = WorldConfig(max_objects=0, p_machine=1, p_lamp=0, p_balloon=0, p_silent=0,
                         p_background_change=0)
    checked = 0
    for seed in range(12):
        clip = make_clip(seed, config=config)
        (hum,) = clip.events
        first = hum.frame
        last = first + round(hum.duration_s * float(clip.fps))
        shown = np.any(clip.frames != render_background(clip.scene), axis=(1, 2, 3))
        assert np.array_equal(np.flatnonzero(shown), np.arange(first, last))
        # Per frame: brightness of the picture (only the machine's light changes) vs loudness.
        light = clip.frames.astype(np.int64).sum(axis=(1, 2, 3))
        bounds = frame_sample(np.arange(clip.n_frames + 1), clip.fps, clip.sample_rate)
        loud = np.array([np.sqrt(np.mean(clip.audio[a:b] ** 2))
                         for a, b in zip(bounds[:-1], bounds[1:])])
        frames = np.arange(first + 1, last - 1)
        assert np.corrcoef(light[frames], loud[frames])[0, 1] > 0.8
        checked += 1
    assert checked == 12
