"""Render a timeline range to a small H.264 MP4 with fixed settings, and leave the Deliver page
as the user had it.

Resolve applies SetRenderSettings on top of whatever preset is loaded and has no
GetRenderSettings, so: snapshot the user's state as a temporary preset, load our pinned preset
(created once from a stock H.264 preset), render, poll the job, then load the snapshot back and
delete it. Render marks are absolute timeline frames, Out inclusive.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .resolve_compat import (
    ResolveScriptError,
    has_method,
    has_video_track,
    preset_names,
    render_output_path,
)

if TYPE_CHECKING:  # typing.Self is 3.11+; Resolve may run an older Python
    from typing import Self

PINNED_PRESET = "MF-MJT Render"
BASE_PRESETS = ("H.264 Master", "H.264", "YouTube - 1080p", "YouTube 1080p")
FINAL_STATES = ("Complete", "Failed", "Cancelled")


@dataclass(frozen=True)
class TimelineRange:
    """The marked range: `start_frame` is the timeline's first frame (often 86400); `mark_in`
    and `mark_out` are relative to it as GetMarkInOut returns them, Out inclusive."""

    start_frame: int
    mark_in: int
    mark_out: int
    fps: Fraction

    @property
    def record_in(self) -> int:
        """The first frame in absolute timeline frames (render marks, recordFrame)."""
        return self.start_frame + self.mark_in

    @property
    def record_out(self) -> int:
        """The last frame (inclusive) in absolute timeline frames."""
        return self.start_frame + self.mark_out

    @property
    def frames(self) -> int:
        return self.mark_out - self.mark_in + 1

    @property
    def seconds(self) -> float:
        return float(self.frames / self.fps)


@dataclass(frozen=True)
class RenderOptions:
    width: int = 640  # the model looks at 384 px at most; small renders are quick to send
    timeout_s: float = 900.0
    poll_s: float = 0.25


def render_size(timeline, width: int) -> tuple[int, int]:
    """The render size: at most `width` wide, the timeline's aspect, even numbers (H.264 4:2:0)."""
    try:
        tw = int(timeline.GetSetting("timelineResolutionWidth"))
        th = int(timeline.GetSetting("timelineResolutionHeight"))
    except (TypeError, ValueError):
        tw, th = 1920, 1080
    w = min(width, tw)
    h = max(2, round(th * w / tw / 2) * 2)
    return w - w % 2, h


class RenderState:
    """Context manager: remember the page, format, codec, mode and settings; restore on exit."""

    def __init__(self, resolve, project, log: Callable[[str], None]) -> None:
        self.resolve, self.project, self.log = resolve, project, log
        self.snapshot = f"MF-MJT saved {uuid.uuid4().hex[:8]}"
        self.saved = False

    def __enter__(self) -> Self:
        self.page = self.resolve.GetCurrentPage() if has_method(self.resolve, "GetCurrentPage") else None
        self.format_codec = self.project.GetCurrentRenderFormatAndCodec() or {}
        self.mode = self.project.GetCurrentRenderMode()
        self.saved = bool(self.project.SaveAsNewRenderPreset(self.snapshot))
        if not self.saved:
            self.log("could not snapshot the render settings; they will be left as MF-MJT set them")
        if self.page != "deliver" and has_method(self.resolve, "OpenPage"):
            self.resolve.OpenPage("deliver")
        return self

    def __exit__(self, *exc) -> None:
        if self.saved:
            self.project.LoadRenderPreset(self.snapshot)
            if has_method(self.project, "DeleteRenderPreset"):
                self.project.DeleteRenderPreset(self.snapshot)
        if self.format_codec.get("format") and self.format_codec.get("codec"):
            self.project.SetCurrentRenderFormatAndCodec(self.format_codec["format"], self.format_codec["codec"])
        if self.mode is not None:
            self.project.SetCurrentRenderMode(self.mode)
        if self.page and self.page != "deliver" and has_method(self.resolve, "OpenPage"):
            self.resolve.OpenPage(self.page)


def pin_preset(project, size: tuple[int, int]) -> None:
    """Load the pinned preset; create it from a stock H.264 preset the first time."""
    names = preset_names(project)
    if PINNED_PRESET in names and project.LoadRenderPreset(PINNED_PRESET):
        return
    base = next((n for n in BASE_PRESETS if n in names), None)
    if base is None or not project.LoadRenderPreset(base):
        raise ResolveScriptError(
            "no H.264 render preset found to start from; on the Deliver page save a preset named "
            f"{PINNED_PRESET!r} that renders H.264 MP4 video, then run the script again")
    if not project.SetCurrentRenderFormatAndCodec("mp4", "H264"):
        raise ResolveScriptError("Resolve refused MP4/H.264 as render format")
    project.SetCurrentRenderMode(1)  # single clip
    project.SetRenderSettings({"ExportVideo": True, "ExportAudio": False,
                               "FormatWidth": size[0], "FormatHeight": size[1]})
    project.SaveAsNewRenderPreset(PINNED_PRESET)


def render_range(resolve, project, timeline, rng: TimelineRange, folder: Path, options: RenderOptions,
                 log: Callable[[str], None], sleep: Callable[[float], None] = time.sleep) -> Path:
    """Render `rng` to `folder` and return the MP4's path; user's render state restored after."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"mfmjt-range-{rng.record_in}-{rng.record_out}-{uuid.uuid4().hex[:6]}"
    size = render_size(timeline, options.width)
    with RenderState(resolve, project, log):
        pin_preset(project, size)
        project.SetCurrentRenderMode(1)
        ok = project.SetRenderSettings({
            "SelectAllFrames": False, "MarkIn": rng.record_in, "MarkOut": rng.record_out,
            "TargetDir": str(folder), "CustomName": name, "ExportVideo": True, "ExportAudio": False,
            "FormatWidth": size[0], "FormatHeight": size[1]})
        if not ok:
            raise ResolveScriptError("Resolve refused the render settings")
        job = project.AddRenderJob()
        if not job:
            raise ResolveScriptError("Resolve refused to add a render job (check the In/Out marks)")
        try:
            if not project.StartRendering([job], False):
                raise ResolveScriptError("Resolve did not start rendering")
            status = _wait_for_render(project, job, options, log, sleep)
            if status.get("JobStatus") != "Complete":
                raise ResolveScriptError(f"the render ended as {status.get('JobStatus')!r} "
                                         f"{status.get('Error', '')}".strip())
            path = render_output_path(project, job, folder / f"{name}.mp4")
        finally:
            project.DeleteRenderJob(job)
    if not path.is_file() or not has_video_track(path):
        raise ResolveScriptError(f"the render {path} has no video stream; check the {PINNED_PRESET!r} "
                                 "preset exports video")
    return path


def _wait_for_render(project, job, options: RenderOptions, log, sleep) -> dict:
    deadline = time.monotonic() + options.timeout_s
    shown = -1
    while True:
        status = project.GetRenderJobStatus(job) or {}
        state = status.get("JobStatus")
        percent = int(status.get("CompletionPercentage") or 0)
        if percent // 25 != shown // 25:
            log(f"rendering {percent}%")
            shown = percent
        if state in FINAL_STATES and not project.IsRenderingInProgress():
            return status
        if time.monotonic() > deadline:
            project.StopRendering()
            raise ResolveScriptError(f"the render took longer than {options.timeout_s:g} s; stopped it")
        sleep(options.poll_s)
