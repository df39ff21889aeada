"""Jobs in flight and the timer that follows them.

Operators submit and return at once; `tick()` (registered with `bpy.app.timers`, and called
directly by tests, since timers never fire without Blender's window loop) reads the daemon's
events without waiting, updates the panel, and places finished audio. All of it runs on the
main thread, the only one allowed to touch Blender data.

What the sidebar says comes from the job state machine shared with the other editors
(vendor/mfmjt_client/job_state.py): "Cancelling" stays until the daemon confirms, failures name
their cause, and a heartbeat notices a daemon that went silent (SIGKILL) within 5 s.
"""

from __future__ import annotations

import shutil
import time
import traceback
from dataclasses import dataclass
from typing import Any

import bpy

from . import daemon_link
from .placement import Placement, place_result

INTERVAL_S = 0.1


@dataclass(frozen=True)
class PendingJob:
    """One submitted job: the client's Job handle and what is needed to place its result."""

    job: Any
    client: Any
    scene_pointer: int  # scene.as_pointer(): survives renames
    placement: Placement
    package: str
    temp_dir: str | None = None  # the rendered clip's folder, deleted when the job ends
    render_s: float = 0.0
    startup_s: float = 0.0  # the daemon is being started: the heartbeat waits this long for it


_pending: dict[str, PendingJob] = {}
_watches: dict[int, Any] = {}  # id(client) -> JobWatch of that client's jobs


def _job_state() -> Any:
    from .vendor.mfmjt_client import job_state

    return job_state


def _watch(client: Any) -> Any:
    if id(client) not in _watches:
        _watches[id(client)] = _job_state().JobWatch()
    return _watches[id(client)]


def sentence(text: str) -> str:
    """The state machine's line as the sidebar writes it (capital first letter)."""
    return text[:1].upper() + text[1:]


def track(pending: PendingJob) -> None:
    """Follow a submitted job from the timer."""
    _pending[pending.job.id] = pending
    _watch(pending.client).track(pending.job.id, time.monotonic(), pending.startup_s)
    ensure_timer()


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        # persistent: opening another file must not strand jobs (their results are then dropped)
        bpy.app.timers.register(tick, first_interval=INTERVAL_S, persistent=True)


def pending_for(scene: Any) -> list[PendingJob]:
    """Jobs of this scene still in flight."""
    pointer = scene.as_pointer()
    return [p for p in _pending.values() if p.scene_pointer == pointer]


def _scene(pointer: int) -> Any:
    return next((s for s in bpy.data.scenes if s.as_pointer() == pointer), None)


def _finish(pending: PendingJob) -> None:
    _pending.pop(pending.job.id, None)
    _watch(pending.client).jobs.pop(pending.job.id, None)
    if pending.temp_dir:
        shutil.rmtree(pending.temp_dir, ignore_errors=True)


def tick() -> float | None:
    """The timer callback: poll every client once (no waiting), apply what arrived, keep the
    heartbeat. Returns the delay until the next call, or None when nothing is left to follow."""
    clients = {id(p.client): p.client for p in _pending.values()}
    now = time.monotonic()
    for client in clients.values():
        watch = _watch(client)
        try:
            events = client.poll(0)
        except Exception as exc:  # a broken socket fails its jobs; the timer must survive it
            for pending in [p for p in _pending.values() if p.client is client]:
                _set_status(pending, f"Failed: lost the connection to the daemon ({exc})")
                _finish(pending)
            continue
        for event in events:
            pending = _pending.get(event.job)
            if pending is not None:
                watch.feed([event], now)
                _apply(pending, event, watch.jobs.get(event.job), now)
        if watch.tick(client, now) == "give_up":
            for pending in [p for p in _pending.values() if p.client is client]:
                state = watch.jobs.get(pending.job.id)
                _set_status(pending, sentence(state.text(now)) if state else "Failed: the daemon stopped answering")
                scene = _scene(pending.scene_pointer)
                if scene is not None:
                    scene.mfmjt.daemon_status = f"Not answering: nothing heard for {watch.heartbeat.give_up_s:g} s"
                _finish(pending)
        for pending in [p for p in _pending.values() if p.client is client]:
            state = watch.jobs.get(pending.job.id)
            scene = _scene(pending.scene_pointer)
            if state is not None and scene is not None and state.phase != "queued" and not state.finished:
                scene.mfmjt.status = sentence(state.text(now))  # the time left counts down
    for scene_name, text in daemon_link.hello_answers():
        scene = bpy.data.scenes.get(scene_name)
        if scene is not None:
            scene.mfmjt.daemon_status = text
    _refresh_ui()
    return INTERVAL_S if _pending or daemon_link.checks_pending() else None


def _set_status(pending: PendingJob, text: str) -> None:
    scene = _scene(pending.scene_pointer)
    if scene is not None:
        scene.mfmjt.status, scene.mfmjt.progress = text, 0.0


def _apply(pending: PendingJob, event: Any, state: Any, now: float) -> None:
    scene = _scene(pending.scene_pointer)
    if scene is None:  # the scene was deleted: nowhere to put the audio
        _finish(pending)
        return
    settings = scene.mfmjt
    if event.kind == "accepted":
        if state is None or state.phase == "queued":
            settings.status = "Accepted by the daemon"
    elif event.kind == "progress":
        settings.progress = event.progress.fraction
        settings.status = sentence(state.text(now)) if state is not None else progress_text(event.progress)
    elif event.kind == "error":
        _finish(pending)
        settings.progress = 0.0
        settings.status = sentence(state.text(now)) if state is not None else f"Failed: {event.error.message}"
        if event.error.code == "shutting_down":
            settings.daemon_status = "The daemon shut down"
    elif event.kind == "result":
        _finish(pending)
        _place(scene, pending, event.result)


def _place(scene: Any, pending: PendingJob, result: Any) -> None:
    settings = scene.mfmjt
    try:
        strips = place_result(scene, result, pending.placement, pending.package, daemon_link.client_module().write_wav)
    except (ValueError, OSError, RuntimeError) as exc:
        settings.status = f"Failed to place the audio: {exc}"
        return
    except Exception as exc:  # keep the timer alive; the console gets the details
        traceback.print_exc()
        settings.status = f"Failed to place the audio (a bug, details in the console): {exc}"
        return
    frames = pending.placement.frames
    settings.progress = 1.0
    channels = ", ".join(str(s.channel) for s in strips)
    seeds = ", ".join(str(s) for s in result.seeds)
    settings.status = f"Done: {len(strips)} take(s) at frame {frames.start}, channel {channels}"
    levels = "; ".join(levels_text(level) for level in result.levels)
    settings.last_result = (f"{result.duration:.2f} s, seed {seeds}, model {result.model}"
                            + (f", {levels}" if levels else ""))
    settings.last_timings = timings_text(pending.render_s, result)
    settings.daemon_status = f"Ready: {result.model}"


def levels_text(level: dict) -> str:
    """One take's delivered levels, e.g. "-23.0 LUFS, -1.0 dBTP" (the client's events.levels_text)."""
    loud, peak = level.get("loudness_lufs"), level.get("true_peak_dbtp")
    return (f"{'-' if loud is None else f'{loud:.1f}'} LUFS, "
            f"{'-' if peak is None else f'{peak:.1f}'} dBTP")


def progress_text(progress: Any) -> str:
    """'sample 42% (1.3 s left)', or the queue position while waiting."""
    if progress.stage == "queued":
        return f"Queued (position {progress.position})" if progress.position else "Queued"
    text = f"{progress.stage} {progress.fraction:.0%}"
    return text + (f" ({progress.eta_s:.1f} s left)" if progress.eta_s is not None else "")


def timings_text(render_s: float, result: Any) -> str:
    """Render, queue and run seconds, then the daemon's slowest stages."""
    head = result.header
    parts = [f"render {render_s:.2f} s"] if render_s else []
    parts += [f"queued {head.get('queued_s', 0.0):.2f} s", f"run {head.get('run_s', 0.0):.2f} s"]
    stages = sorted(result.timings.items(), key=lambda kv: -kv[1])[:3]
    return ", ".join(parts) + ("; " + ", ".join(f"{k} {v:.2f} s" for k, v in stages) if stages else "")


def cancel(scene: Any) -> int:
    """Ask the daemon to cancel this scene's jobs, without waiting. The sidebar says
    "Cancelling" until the daemon confirms (the timer then writes "Cancelled: you cancelled");
    a daemon that does not answer is reported by the heartbeat. Returns how many there were."""
    mine = pending_for(scene)
    now = time.monotonic()
    for pending in mine:
        watch = _watch(pending.client)
        if watch.cancel(pending.client, pending.job.id, now):
            scene.mfmjt.status = sentence(watch.jobs[pending.job.id].text(now))
    if mine:
        _refresh_ui()
    return len(mine)


def forget_all() -> None:
    """Drop every job and close the clients (add-on disabled); the daemon cancels the jobs."""
    for pending in list(_pending.values()):
        _finish(pending)
    _watches.clear()
    daemon_link.close_all()
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)


def _refresh_ui() -> None:
    """Status-bar text while jobs run, and a redraw of the sequencer sidebars."""
    text = None
    if _pending:
        scene = _scene(next(iter(_pending.values())).scene_pointer)
        text = f"MF-MJT: {scene.mfmjt.status}" if scene is not None else None
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", ()):
        window.workspace.status_text_set(text)
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()
