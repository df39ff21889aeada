"""Check, inside a real DaVinci Resolve, the API facts the MF-MJT scripts rely on.

They come from community measurements, not Blackmagic's documentation (shared research,
"Frame-space pitfalls"), so a person runs this once (Workspace > Scripts > Edit > MF-MJT
Self-test, or `mfmjt resolve-selftest` with Studio's external scripting) and sends back the
lines that say FAIL. Everything happens on a scratch bin and timeline that are removed at the
end; the user's render settings, page and current timeline are put back.

Checks (one line each, PASS / FAIL / SKIP with what Resolve answered):
- methods: `dir()` lists API methods (the scripts probe capabilities with it, since
  `hasattr()` is true for any name on Resolve objects);
- append: an audio-only WAV imported and appended with `AppendToTimeline` counts
  seconds x timeline rate frames, lands at the absolute `recordFrame`, `endFrame` exclusive;
- marks: `SetMarkInOut`/`GetMarkInOut` count from the timeline start (relative);
- markers: `AddMarker`/`GetMarkers` count from the timeline start too;
- stereo: `AddTrack("audio", "stereo")` adds one stereo track;
- render snapshot: a render preset saved from the current settings brings them back when
  loaded (the scripts' way to restore the Deliver page, as there is no GetRenderSettings).
Standard library only: runs in Resolve's own Python (3.9 and later).
"""

from __future__ import annotations

import platform
import shutil
import sys
import tempfile
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .resolve_compat import ResolveScriptError, get_resolve, has_method, parse_frame_rate

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
SCRATCH_NAME = "MF-MJT self-test"
WAV_SECONDS = 2
WAV_RATE = 48_000
RECORD_OFFSET = 24  # frames after the timeline start where the WAV is appended
MARK_IN, MARK_OUT = 30, 40  # inside the appended clip, relative to the timeline start
METHODS = {  # what the scripts call, per object; all documented for 19.1 and later
    "resolve": ("GetProjectManager", "GetProductName", "OpenPage"),
    "project": ("GetCurrentTimeline", "GetMediaPool", "SaveAsNewRenderPreset", "LoadRenderPreset",
                "SetRenderSettings", "AddRenderJob"),
    "media_pool": ("ImportMedia", "AppendToTimeline", "AddSubFolder"),
    "timeline": ("GetStartFrame", "GetMarkInOut", "GetMarkers", "GetItemListInTrack", "AddTrack",
                 "GetTrackSubType"),
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    saw: str  # what Resolve answered, in words

    def line(self) -> str:
        return f"{self.status} {self.name}: {self.saw}"


@dataclass
class Scratch:
    """The scratch bin, timeline and files of one run (removed by `remove_scratch`)."""

    resolve: object
    project: object
    media_pool: object
    folder: Path
    tag: str
    previous_timeline: object = None
    previous_bin: object = None
    bin: object = None
    timeline: object = None
    start: int = 0
    fps: Fraction = Fraction(24)
    item: object = None  # the imported WAV
    placed: bool = False  # whether the WAV is on the timeline (the marks need content)


def write_test_wav(path: Path, seconds: int = WAV_SECONDS) -> Path:
    """A silent 16-bit stereo WAV of exactly `seconds` at 48 kHz."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(WAV_RATE)
        w.writeframes(bytes(4 * WAV_RATE * seconds))
    return path


def _frames(value) -> int | None:
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return None


def _marks(timeline) -> tuple[int, int] | None:
    marks = timeline.GetMarkInOut() or {}
    for kind in ("video", "audio"):
        mark = marks.get(kind) or {}
        if "in" in mark and "out" in mark:
            return _frames(mark["in"]), _frames(mark["out"])
    return None


# ---- the checks --------------------------------------------------------------------------------

def check_methods(s: Scratch) -> Check:
    objects = {"resolve": s.resolve, "project": s.project, "media_pool": s.media_pool, "timeline": s.timeline}
    probed = [(kind, name) for kind, names in METHODS.items() for name in names]
    missing = [f"{kind}.{name}" for kind, name in probed if not has_method(objects[kind], name)]
    fabricated = hasattr(s.timeline, "MfmjtNoSuchMethod")
    saw = (f"dir() lists {len(probed) - len(missing)} of {len(probed)} methods the scripts call"
           + (f"; missing: {', '.join(missing)}" if missing else "")
           + f"; hasattr() of a made-up name is {fabricated}")
    return Check("methods", FAIL if missing else PASS, saw)


def check_append(s: Scratch) -> Check:
    wav = write_test_wav(s.folder / "mfmjt-selftest.wav")
    items = s.media_pool.ImportMedia([str(wav)]) or []
    if not items:
        return Check("append", FAIL, f"ImportMedia did not import {wav}")
    s.item = items[0]
    counted = _frames(s.item.GetClipProperty("Frames"))
    expected = WAV_SECONDS * s.fps
    if int(s.timeline.GetTrackCount("audio") or 0) < 1:
        s.timeline.AddTrack("audio", "stereo")
    length = int(expected) // 2  # half the clip: shows whether endFrame is exclusive
    record = s.start + RECORD_OFFSET
    s.media_pool.AppendToTimeline([{"mediaPoolItem": s.item, "startFrame": 0, "endFrame": length,
                                    "mediaType": 2, "trackIndex": 1, "recordFrame": record}])
    wanted = s.item.GetUniqueId()
    placed = [i for i in s.timeline.GetItemListInTrack("audio", 1) or []
              if i.GetMediaPoolItem() is not None and i.GetMediaPoolItem().GetUniqueId() == wanted]
    head = (f"a {WAV_SECONDS} s WAV counts {counted} frames (timeline {float(s.fps):.3f} fps: "
            f"{float(expected):.2f} expected); endFrame {length} at recordFrame {record}")
    if not placed:
        return Check("append", FAIL, head + " left nothing on audio track 1")
    start, duration = int(placed[0].GetStart()), int(placed[0].GetDuration())
    s.placed = True
    saw = f"{head} landed at {start} for {duration} frames"
    problems = []
    if counted is None or abs(counted - expected) >= 1:
        problems.append("the frame count is not seconds x timeline rate")
    if start != record:
        problems.append("recordFrame is not absolute" if start == s.start + record else "it landed elsewhere")
    if duration != length:
        problems.append("endFrame is inclusive" if duration == length + 1 else "the length differs")
    return Check("append", FAIL if problems else PASS, saw + ("; " + "; ".join(problems) if problems else ""))


def check_marks(s: Scratch) -> Check:
    if not isinstance(s.timeline.GetMarkInOut(), dict):  # called, not probed: the methods check does that
        return Check("marks", SKIP, "GetMarkInOut answered no marks table (it is new in Resolve 19.1)")
    if not s.placed:
        return Check("marks", SKIP, "the scratch timeline is empty (the append check failed)")
    relative_ok = s.timeline.SetMarkInOut(MARK_IN, MARK_OUT)
    relative = _marks(s.timeline)
    absolute_ok = s.timeline.SetMarkInOut(s.start + MARK_IN, s.start + MARK_OUT)
    absolute = _marks(s.timeline)
    if has_method(s.timeline, "ClearMarkInOut"):
        s.timeline.ClearMarkInOut()
    saw = (f"timeline starts at {s.start}; SetMarkInOut({MARK_IN}, {MARK_OUT}) gave {relative_ok} and "
           f"GetMarkInOut read {relative}; SetMarkInOut({s.start + MARK_IN}, {s.start + MARK_OUT}) gave "
           f"{absolute_ok} and read {absolute}")
    if relative == (MARK_IN, MARK_OUT) and absolute != (s.start + MARK_IN, s.start + MARK_OUT):
        return Check("marks", PASS, saw + ": relative to the timeline start")
    if relative == (MARK_IN, MARK_OUT):
        return Check("marks", FAIL, saw + ": both kept as given, so the frame space cannot be told")
    return Check("marks", FAIL, saw + ": not relative to the timeline start")


def check_markers(s: Scratch) -> Check:
    if not s.placed:
        return Check("markers", SKIP, "the scratch timeline is empty (the append check failed)")
    relative_ok = s.timeline.AddMarker(MARK_IN, "Blue", "mfmjt-selftest", "relative", 1, "")
    absolute_ok = s.timeline.AddMarker(s.start + MARK_IN, "Blue", "mfmjt-selftest", "absolute", 1, "")
    markers = s.timeline.GetMarkers() or {}
    frames = sorted(_frames(f) for f in markers)
    notes = {_frames(f): (m or {}).get("note") for f, m in markers.items()}
    saw = (f"AddMarker({MARK_IN}) gave {relative_ok}, AddMarker({s.start + MARK_IN}) gave {absolute_ok}; "
           f"GetMarkers has frames {frames}")
    if notes.get(MARK_IN) == "relative" and notes.get(s.start + MARK_IN) != "absolute":
        return Check("markers", PASS, saw + ": relative to the timeline start")
    if notes.get(MARK_IN) == "relative":
        return Check("markers", FAIL, saw + ": both kept as given, so the frame space cannot be told")
    return Check("markers", FAIL, saw + ": not relative to the timeline start")


def check_stereo_track(s: Scratch) -> Check:
    before = int(s.timeline.GetTrackCount("audio") or 0)
    answer = s.timeline.AddTrack("audio", "stereo")
    after = int(s.timeline.GetTrackCount("audio") or 0)
    kind = str(s.timeline.GetTrackSubType("audio", after)) if after > before else None
    saw = f'AddTrack("audio", "stereo") gave {answer}; audio tracks {before} -> {after}, the new one {kind!r}'
    if after == before + 1 and (kind or "").lower() == "stereo":
        return Check("stereo", PASS, saw)
    s.timeline.AddTrack("audio", {"audioType": "stereo"})
    later = int(s.timeline.GetTrackCount("audio") or 0)
    other = str(s.timeline.GetTrackSubType("audio", later)) if later > after else None
    return Check("stereo", FAIL, saw + f'; AddTrack("audio", {{"audioType": "stereo"}}) then added {other!r}')


def _job_settings(project) -> dict | None:
    """What a render job made from the current settings records (GetRenderJobList), or None."""
    job = project.AddRenderJob()
    if not job:
        return None
    try:
        for entry in project.GetRenderJobList() or []:
            if str(entry.get("JobId")) == str(job):
                return {k: v for k, v in entry.items() if k != "JobId"}
        return None
    finally:
        project.DeleteRenderJob(job)


def check_render_snapshot(s: Scratch) -> Check:
    project, resolve = s.project, s.resolve
    page = resolve.GetCurrentPage()
    user, probe = f"{SCRATCH_NAME} user {s.tag}", f"{SCRATCH_NAME} probe {s.tag}"
    format_codec, mode = project.GetCurrentRenderFormatAndCodec() or {}, project.GetCurrentRenderMode()
    saved_user = project.SaveAsNewRenderPreset(user)
    resolve.OpenPage("deliver")
    a_dir, b_dir = s.folder / "render-a", s.folder / "render-b"
    a_dir.mkdir()
    b_dir.mkdir()
    try:
        project.SetRenderSettings({"SelectAllFrames": True, "TargetDir": str(a_dir), "CustomName": "mfmjt-selftest-a",
                                   "FormatWidth": 640, "FormatHeight": 360})
        saved_probe = project.SaveAsNewRenderPreset(probe)
        before = _job_settings(project)
        project.SetRenderSettings({"TargetDir": str(b_dir), "CustomName": "mfmjt-selftest-b",
                                   "FormatWidth": 320, "FormatHeight": 180})
        disturbed = _job_settings(project)
        loaded = project.LoadRenderPreset(probe)
        after = _job_settings(project)
    finally:
        if saved_user:
            project.LoadRenderPreset(user)
            project.DeleteRenderPreset(user)
        project.DeleteRenderPreset(probe)
        if format_codec.get("format") and format_codec.get("codec"):
            project.SetCurrentRenderFormatAndCodec(format_codec["format"], format_codec["codec"])
        if mode is not None:
            project.SetCurrentRenderMode(mode)
        if page:
            resolve.OpenPage(page)
    page_back = resolve.GetCurrentPage() == page
    if not (saved_user and saved_probe):
        return Check("render snapshot", FAIL, f"SaveAsNewRenderPreset gave {saved_user} and {saved_probe}")
    if before is None or disturbed is None or after is None:
        return Check("render snapshot", FAIL, "AddRenderJob refused a job for the scratch timeline, so the "
                     "settings could not be read back")
    changed = sorted(k for k in before if before.get(k) != disturbed.get(k))
    lost = sorted(k for k in before if before.get(k) != after.get(k))
    saw = (f"changed {', '.join(changed) or 'nothing'}; LoadRenderPreset gave {loaded}; "
           + (f"not back: {', '.join(f'{k} {before[k]!r} -> {after.get(k)!r}' for k in lost)}" if lost
              else "all back") + f"; page {page!r} back: {page_back}")
    ok = bool(changed) and not lost and page_back
    return Check("render snapshot", PASS if ok else FAIL, saw)


CHECKS: tuple[Callable[[Scratch], Check], ...] = (
    check_methods, check_append, check_marks, check_markers, check_stereo_track, check_render_snapshot)


# ---- the scratch timeline ----------------------------------------------------------------------

def make_scratch(resolve) -> Scratch:
    """A scratch bin holding a new empty timeline, made current."""
    project = resolve.GetProjectManager().GetCurrentProject()
    if project is None:
        raise ResolveScriptError("open a project first (the self-test adds and removes a scratch timeline)")
    media_pool = project.GetMediaPool()
    tag = uuid.uuid4().hex[:6]
    s = Scratch(resolve, project, media_pool, Path(tempfile.mkdtemp(prefix="mfmjt-selftest-")), tag)
    s.previous_timeline, s.previous_bin = project.GetCurrentTimeline(), media_pool.GetCurrentFolder()
    s.bin = media_pool.AddSubFolder(media_pool.GetRootFolder(), f"{SCRATCH_NAME} {tag}")
    if s.bin:
        media_pool.SetCurrentFolder(s.bin)
    s.timeline = media_pool.CreateEmptyTimeline(f"{SCRATCH_NAME} {tag}")
    if not s.timeline:
        remove_scratch(s)
        raise ResolveScriptError("Resolve refused to create a scratch timeline (CreateEmptyTimeline)")
    project.SetCurrentTimeline(s.timeline)
    s.start = int(s.timeline.GetStartFrame())
    s.fps = parse_frame_rate(s.timeline.GetSetting("timelineFrameRate"))
    return s


def remove_scratch(s: Scratch) -> Check:
    """Delete the scratch timeline, clip and bin; current timeline and bin as they were."""
    if s.previous_timeline is not None:
        s.project.SetCurrentTimeline(s.previous_timeline)
    removed = []
    if s.timeline:
        removed.append(bool(s.media_pool.DeleteTimelines([s.timeline])))
    if s.item is not None:
        removed.append(bool(s.media_pool.DeleteClips([s.item])))
    s.media_pool.SetCurrentFolder(s.previous_bin or s.media_pool.GetRootFolder())
    if s.bin:
        removed.append(bool(s.media_pool.DeleteFolders([s.bin])))
    shutil.rmtree(s.folder, ignore_errors=True)
    left = [str(t.GetName()) for t in _timelines(s.project) if str(t.GetName()).endswith(s.tag)]
    saw = f"scratch timeline, clip and bin deleted: {removed}; timelines left with the tag: {left or 'none'}"
    return Check("clean-up", PASS if all(removed) and not left else FAIL, saw)


def _timelines(project) -> list:
    count = int(project.GetTimelineCount() or 0)
    return [t for t in (project.GetTimelineByIndex(i) for i in range(1, count + 1)) if t]


def run_selftest(resolve, log: Callable[[str], None] = print) -> list[Check]:
    """Every check on a scratch timeline; each line is logged as it is known."""
    product = f"{resolve.GetProductName()} {resolve.GetVersionString()}"
    log(f"MF-MJT self-test: {product}, {platform.system()} {platform.release()}, "
        f"Python {sys.version.split()[0]}")
    s = make_scratch(resolve)
    log(f"scratch timeline {s.timeline.GetName()!r}: starts at frame {s.start}, {float(s.fps):.3f} fps")
    results = []
    try:
        for check in CHECKS:
            try:
                result = check(s)
            except Exception as exc:  # a crash in one check is a finding, not the end of the run
                result = Check(check.__name__.replace("check_", "").replace("_", " "), FAIL,
                               f"raised {type(exc).__name__}: {exc}")
            results.append(result)
            log(result.line())
    finally:
        cleanup = remove_scratch(s)
        results.append(cleanup)
        log(cleanup.line())
    failed = [r for r in results if r.status == FAIL]
    log(f"{len(results) - len(failed)} of {len(results)} passed or skipped"
        + ("; please send every line above to the MF-MJT issue tracker (see the Resolve README)" if failed else ""))
    return results


def main(resolve=None, namespace: dict | None = None, log: Callable[[str], None] = print) -> int:
    """Entry point of the menu script and of `mfmjt resolve-selftest`: 0 when nothing failed."""
    resolve = resolve or get_resolve(namespace)
    if resolve is None:
        log("MF-MJT self-test: no DaVinci Resolve to talk to; run it from Workspace > Scripts inside Resolve")
        return 1
    try:
        results = run_selftest(resolve, log)
    except ResolveScriptError as exc:
        log(f"MF-MJT self-test: {exc}")
        return 1
    return 1 if any(r.status == FAIL for r in results) else 0
