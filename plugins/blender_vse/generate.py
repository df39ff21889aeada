"""The two actions behind the panel's buttons, as plain functions over a scene.

Each one decides the range, renders it when the model should see the picture, submits the
job and returns at once; `jobs.tick()` does the rest. Problems become a sentence in the
panel's status line (`scene.mfmjt.status`), never a traceback.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from typing import Any

from . import compat, daemon_link, jobs, timeline
from .placement import Placement
from .preferences import DaemonConfig
from .render import RenderError, render_range

STARTUP_S = 120.0  # a daemon the add-on just started may load its model this long before it speaks
from .timeline import FrameRange

MAX_SEED = 2**31 - 17  # the seed field is a 32-bit int, and takes use seed, seed+1, ... seed+15
LOUDNESS_OFF = -70.0  # the loudness slider's floor: leave the takes' loudness as generated


class NotReady(Exception):
    """This scene cannot start a job now; the message says why."""


def request_params(settings: Any, config: DaemonConfig) -> dict[str, Any]:
    """The generate fields taken from the panel (the seed is drawn here unless locked)."""
    if not settings.lock_seed:
        settings.seed = secrets.randbelow(MAX_SEED)  # a fresh take each press; shown so it can be locked
    return {"prompt": settings.prompt.strip(), "negative_prompt": settings.negative_prompt.strip() or None,
            "seed": settings.seed, "steps": settings.steps,
            "guidance": settings.guidance if settings.guidance > 0 else None,
            "rescale": None if settings.rescale == "DEFAULT" else settings.rescale,
            "temperature": settings.temperature if settings.temperature > 0 else None,
            "variations": settings.variations, "channels": 2 if settings.stereo else 1,
            "sample_rate": config.sample_rate,
            "loudness": settings.loudness if settings.loudness > LOUDNESS_OFF else None}


def _check_ready(scene: Any) -> None:
    if not compat.has_audio():
        raise NotReady("This Blender was built without audio (Audaspace): sound strips cannot be made.")
    if jobs.pending_for(scene):
        raise NotReady("A job is still running for this scene: wait for it or cancel it.")


def _submit(scene: Any, config: DaemonConfig, package: str, frames: FrameRange,
            video: str | None, render_s: float, temp_dir: str | None, client: Any, started: bool) -> None:
    settings = scene.mfmjt
    fps = timeline.scene_fps(scene)
    params = request_params(settings, config)
    if video is None:
        params["duration"] = timeline.seconds(frames.frames, fps)
    else:  # the clip holds exactly the range: frames [0, n) at the scene's exact rate
        params.update(start_frame=0, end_frame=frames.frames, fps=(fps.numerator, fps.denominator))
    job = client.submit(video, **params)
    placement = Placement(frames, timeline.picture_channel(scene, frames), params["prompt"])
    startup_s = STARTUP_S if started else 0.0
    jobs.track(jobs.PendingJob(job, client, scene.as_pointer(), placement, package, temp_dir, render_s, startup_s))


def _run(scene: Any, config: DaemonConfig, package: str, frames: FrameRange, with_video: bool) -> bool:
    settings = scene.mfmjt
    temp_dir = None
    try:
        _check_ready(scene)
        client, started = daemon_link.connect(config)
        video, render_s = None, 0.0
        if with_video:
            temp_dir = tempfile.mkdtemp(prefix="mfmjt_vse_")
            t0 = time.perf_counter()
            video = render_range(scene, frames, temp_dir, config.render_height)
            render_s = time.perf_counter() - t0
        _submit(scene, config, package, frames, video, render_s, temp_dir, client, started)
    except (NotReady, daemon_link.LinkError, RenderError, ValueError, OSError) as exc:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        settings.status = str(exc)
        settings.progress = 0.0
        return False
    fps = timeline.scene_fps(scene)
    what = f"frames {frames.start}-{frames.end - 1} ({frames.source}, {timeline.seconds(frames.frames, fps):.2f} s)"
    settings.status = ("Starting the daemon; sent " if started else "Sent ") + what
    settings.progress = 0.0
    return True


def for_selection(scene: Any, config: DaemonConfig, package: str) -> bool:
    """Generate for the selected strips (their union), else the preview range, else the scene
    range: render it through the sequencer, send it, return. False (with the reason in
    `scene.mfmjt.status`) when nothing was sent."""
    return _run(scene, config, package, timeline.generation_range(scene), with_video=True)


def from_prompt(scene: Any, config: DaemonConfig, package: str) -> bool:
    """Text-to-audio: `scene.mfmjt.duration` seconds at the playhead from the prompt alone."""
    if not scene.mfmjt.prompt.strip():
        scene.mfmjt.status = "Write a prompt first: text-to-audio has nothing else to go on."
        return False
    frames = timeline.playhead_range(scene, scene.mfmjt.duration)
    return _run(scene, config, package, frames, with_video=False)
