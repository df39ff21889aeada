"""The one place that knows where DaVinci Resolve's scripting API differs between versions, or lies.

Facts (shared/research/ecosystem.md section 3; WheheoHu/bmd_doc; davinci-resolve-mcp's
api-limitations): `hasattr()` is always True on Resolve objects, so capabilities are probed with
`dir()`; `Timeline.GetMarkInOut()` exists from 19.1 and is relative to the timeline start, while
render marks and `AppendToTimeline`'s `recordFrame` are absolute (start often 86400);
`AddTrack(type, subType)` and `AddTrack(type, {audioType, index})` are two generations of one
call; the timeline rate is a string such as "23.976". Standard library only: this file runs in
Resolve's own Python (3.9 and later, as the vendored client).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

STUDIO_NAME = "DaVinci Resolve Studio"
_NTSC_BASES = (24, 30, 48, 60, 96, 120)  # rates Resolve shows as N * 1000/1001


class ResolveScriptError(Exception):
    """A failure the person in front of Resolve can act on; the message says how."""


def has_method(obj: object, name: str) -> bool:
    """Whether a Resolve object really has `name` (dir(), since hasattr() is always True)."""
    try:
        return name in dir(obj)
    except Exception:  # a dead proxy: treat as absent
        return False


def get_resolve(namespace: dict | None = None):
    """The `resolve` object: the global that Workspace > Scripts gives a script, else
    `app.GetResolve()`, else external scripting (Studio only). None when out of reach."""
    namespace = namespace or {}
    if namespace.get("resolve") is not None:
        return namespace["resolve"]
    app = namespace.get("app")
    if app is not None:
        return app.GetResolve()
    try:
        import DaVinciResolveScript  # present inside Resolve and with its env vars set
    except ImportError:
        return None
    return DaVinciResolveScript.scriptapp("Resolve")


def is_studio(resolve) -> bool:
    """True for the Studio edition (several render and UI calls are gated on it)."""
    try:
        return str(resolve.GetProductName()).strip() == STUDIO_NAME
    except Exception:
        return False


def parse_frame_rate(text: object) -> Fraction:
    """A timeline rate as Resolve writes it ("23.976", "29.97", "25", "59.94 DF") as an exact
    rational: NTSC rates become N*1000/1001, never a float."""
    match = re.match(r"\s*([0-9]+(?:\.[0-9]+)?)", str(text))
    if not match:
        raise ResolveScriptError(f"cannot read the timeline frame rate {text!r}")
    value = float(match.group(1))
    if value <= 0:
        raise ResolveScriptError(f"the timeline frame rate {text!r} is not positive")
    for base in _NTSC_BASES:
        if abs(value - base * 1000 / 1001) < 0.01:
            return Fraction(base * 1000, 1001)
    return Fraction(match.group(1)).limit_denominator(1001)


def timeline_fps(timeline) -> Fraction:
    """The timeline's frame rate as a Fraction."""
    return parse_frame_rate(timeline.GetSetting("timelineFrameRate"))


def mark_range(timeline) -> tuple[int, int] | None:
    """The In and Out marks, relative to the timeline start, Out inclusive (video marks, else
    audio marks); None when none are set."""
    if not has_method(timeline, "GetMarkInOut"):
        raise ResolveScriptError("reading In/Out marks needs DaVinci Resolve 19.1 or later")
    marks = timeline.GetMarkInOut() or {}
    for kind in ("video", "audio"):
        mark = marks.get(kind) or {}
        if "in" in mark and "out" in mark:
            return int(mark["in"]), int(mark["out"])
    return None


def track_items(timeline, kind: str, index: int) -> list:
    """Items on one track (1-based index); an empty list, never None."""
    return list(timeline.GetItemListInTrack(kind, index) or [])


def track_is_free(timeline, index: int, start: int, end: int) -> bool:
    """Whether audio track `index` has nothing in the absolute frames [start, end)."""
    for item in track_items(timeline, "audio", index):
        if int(item.GetStart()) < end and int(item.GetEnd()) > start:
            return False
    return True


def free_stereo_track(timeline, start: int, end: int) -> int | None:
    """The first unlocked stereo audio track with nothing in [start, end), or None."""
    for index in range(1, int(timeline.GetTrackCount("audio") or 0) + 1):
        if str(timeline.GetTrackSubType("audio", index)).lower() != "stereo":
            continue
        if has_method(timeline, "GetIsTrackLocked") and timeline.GetIsTrackLocked("audio", index):
            continue
        if track_is_free(timeline, index, start, end):
            return index
    return None


def add_stereo_track(timeline) -> int:
    """Append a stereo audio track and return its index; both generations of AddTrack."""
    before = int(timeline.GetTrackCount("audio") or 0)
    timeline.AddTrack("audio", "stereo")
    if int(timeline.GetTrackCount("audio") or 0) <= before:
        timeline.AddTrack("audio", {"audioType": "stereo"})
    after = int(timeline.GetTrackCount("audio") or 0)
    if after <= before:
        raise ResolveScriptError("Resolve refused to add a stereo audio track")
    return after


def render_output_path(project, job_id: str, fallback: Path) -> Path:
    """Where a finished render job wrote its file, from GetRenderJobList (else `fallback`)."""
    for job in project.GetRenderJobList() or []:
        if str(job.get("JobId")) == str(job_id) and job.get("TargetDir") and job.get("OutputFilename"):
            return Path(job["TargetDir"]) / job["OutputFilename"]
    return fallback


def preset_names(project) -> list[str]:
    """Render preset names (entries are names, or dicts on some builds)."""
    names = []
    for entry in project.GetRenderPresetList() or []:
        if isinstance(entry, dict):
            entry = entry.get("PresetName") or entry.get("Name")
        if entry:
            names.append(str(entry))
    return names


_VIDEO_HANDLER = re.compile(rb"hdlr[\x00-\xff]{8}vide", re.DOTALL)


def has_video_track(path: str | Path) -> bool:
    """Whether an MP4/MOV file holds a video track (a 'hdlr' box of type 'vide').

    SetRenderSettings inherits the loaded preset: after an audio-only preset Resolve writes an
    .mp4 with no picture even with ExportVideo=True, so the output is checked, not the job.
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    return _VIDEO_HANDLER.search(data) is not None
