"""A fake DaVinci Resolve object model that follows the documented scripting API and its pitfalls.

Documented behaviour (WheheoHu/bmd_doc) and measured pitfalls (shared/research/ecosystem.md
section 3) that it reproduces:
- timelines start at an absolute frame (86400 = 01:00:00:00 at 24, 108000 at 30);
  GetMarkInOut() and GetMarkers() are relative to it; render MarkIn/MarkOut and
  AppendToTimeline's recordFrame are absolute; a render range outside the timeline fails;
- hasattr() is True for any name (the bridge fabricates callables that return None): only
  dir() tells real methods;
- SetRenderSettings applies on top of the loaded preset, and after an "Audio Only" preset an
  MP4 render has no video even with ExportVideo=True; there is no GetRenderSettings;
- render jobs progress over several GetRenderJobStatus polls; the file exists only once the
  job is Complete;
- ImportMedia imports into the current folder only;
- AppendToTimeline silently drops a clip that overlaps another on its track, yet returns a
  (phantom) item for it; endFrame is exclusive.
Rendered files are real MP4s (PyAV), so the real daemon can take them.

`Quirks` switches a documented fact the other way (marks absolute, endFrame inclusive, ...), so
the self-test (plugins/resolve/selftest.py) can be seen to FAIL on each, as it should on a
Resolve that behaves so.
"""

from __future__ import annotations

import copy
import itertools
import math
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

_ids = itertools.count(1)


@dataclass(frozen=True)
class Quirks:
    """Ways a Resolve build could differ from the facts the scripts rely on (all off: the facts)."""

    marks_absolute: bool = False  # SetMarkInOut/GetMarkInOut in absolute frames
    markers_absolute: bool = False  # AddMarker/GetMarkers in absolute frames
    record_frame_relative: bool = False  # AppendToTimeline's recordFrame counted from the start
    end_frame_inclusive: bool = False  # AppendToTimeline's endFrame included
    wav_frame_rate: Fraction | None = None  # a WAV counted at this rate, not the timeline's
    add_track_mono: bool = False  # AddTrack("audio", "stereo") ignores the sub type (dict form works)
    presets_keep_only_format: bool = False  # a saved render preset drops TargetDir, size, name
    dir_hides_methods: bool = False  # dir() lists no API methods


NO_QUIRKS = Quirks()


class ResolveObject:
    """Base: any unknown attribute is a callable returning None (like Resolve's bridge)."""

    _quirks = NO_QUIRKS

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None

    def __dir__(self):
        if self._quirks.dir_hides_methods:
            return []
        return [n for c in type(self).__mro__ for n in c.__dict__ if n[:1].isupper()]

    def GetUniqueId(self):
        if "_uid" not in self.__dict__:
            self._uid = f"uid-{next(_ids)}"
        return self._uid


# ---- media pool ------------------------------------------------------------------------------

class MediaPoolItem(ResolveObject):
    def __init__(self, path: Path, frames: int, fps: Fraction) -> None:
        self.path, self.frames, self.fps = Path(path), frames, fps

    def GetName(self):
        return self.path.name

    def GetClipProperty(self, name=None):
        props = {"File Path": str(self.path), "Frames": str(self.frames), "FPS": float(self.fps),
                 "Type": "Audio"}
        return props if name is None else props.get(name, "")


class Folder(ResolveObject):
    def __init__(self, name: str) -> None:
        self.name, self.subfolders, self.clips = name, [], []

    def GetName(self):
        return self.name

    def GetSubFolderList(self):
        return list(self.subfolders)

    def GetClipList(self):
        return list(self.clips)


class TimelineItem(ResolveObject):
    def __init__(self, name: str, start: int, duration: int, media: MediaPoolItem | None = None,
                 real: bool = True) -> None:
        self.name, self.start, self.duration, self.media = name, start, duration, media
        if not real:
            self._uid = ""  # phantom items read back with an empty id

    def GetName(self):
        return self.name

    def GetStart(self):
        return self.start

    def GetEnd(self):
        return self.start + self.duration

    def GetDuration(self):
        return self.duration

    def GetMediaPoolItem(self):
        return self.media


class MediaPool(ResolveObject):
    def __init__(self, project: Project) -> None:
        self.project = project
        self.root = Folder("Master")
        self.current = self.root
        self.drop_next_append = False  # fault injection: drop even a non-overlapping clip

    def GetRootFolder(self):
        return self.root

    def GetCurrentFolder(self):
        return self.current

    def SetCurrentFolder(self, folder):
        self.current = folder
        return True

    def AddSubFolder(self, folder, name):
        sub = Folder(name)
        folder.subfolders.append(sub)
        return sub

    def CreateEmptyTimeline(self, name):
        if any(t.name == name for t in self.project.timelines):
            return None
        first = self.project.timelines[0]
        timeline = Timeline(name, first.rate, first.fps, 3600 * math.ceil(first.fps), 0, first.size, empty=True)
        timeline._quirks = self._quirks
        self.project.timelines.append(timeline)
        self.current.clips.append(timeline)
        return timeline

    def DeleteTimelines(self, timelines):
        for timeline in timelines:
            if timeline not in self.project.timelines or timeline is self.project.GetCurrentTimeline():
                return False
        for timeline in timelines:
            self.project.timelines.remove(timeline)
            self._forget(timeline)
        return True

    def DeleteClips(self, clips):
        return all(self._forget(clip) for clip in clips)

    def DeleteFolders(self, folders):
        def parent_of(folder, under):
            for sub in under.subfolders:
                if sub is folder:
                    return under
                found = parent_of(folder, sub)
                if found:
                    return found
            return None

        for folder in folders:
            parent = parent_of(folder, self.root)
            if parent is None or folder is self.current:
                return False
            parent.subfolders.remove(folder)
        return True

    def _forget(self, clip) -> bool:
        def walk(folder):
            yield folder
            for sub in folder.subfolders:
                yield from walk(sub)

        for folder in walk(self.root):
            if clip in folder.clips:
                folder.clips.remove(clip)
                return True
        return False

    def ImportMedia(self, paths):
        items = []
        # a WAV takes the project rate at import
        fps = self._quirks.wav_frame_rate or self.project.GetCurrentTimeline().fps
        for path in paths:
            path = Path(path)
            if not path.is_file():
                continue
            with wave.open(str(path), "rb") as w:
                seconds = Fraction(w.getnframes(), w.getframerate())
            item = MediaPoolItem(path, round(seconds * fps), fps)
            self.current.clips.append(item)
            items.append(item)
        return items

    def AppendToTimeline(self, clip_infos):
        timeline = self.project.GetCurrentTimeline()
        placed = []
        for info in clip_infos:
            item, track = info["mediaPoolItem"], int(info.get("trackIndex", 1))
            start, end = int(info.get("startFrame", 0)), int(info.get("endFrame", item.frames))
            record = int(info["recordFrame"]) + (timeline.start if self._quirks.record_frame_relative else 0)
            kind = "audio" if info.get("mediaType") == 2 else "video"
            if not 1 <= track <= len(timeline.tracks[kind]) or end <= start or end > item.frames:
                continue
            clip = TimelineItem(item.GetName(), record, end - start + self._quirks.end_frame_inclusive, item)
            items = timeline.tracks[kind][track - 1]["items"]
            overlaps = any(o.start < clip.GetEnd() and o.GetEnd() > record for o in items)
            if overlaps or self.drop_next_append:
                self.drop_next_append = False
                placed.append(TimelineItem(item.GetName(), record, end - start, item, real=False))
                continue
            items.append(clip)
            placed.append(clip)
            timeline.length = max(timeline.length, clip.GetEnd() - timeline.start)
        return placed


# ---- timeline --------------------------------------------------------------------------------

class Timeline(ResolveObject):
    def __init__(self, name: str, rate: str, fps: Fraction, start: int, length: int,
                 size: tuple[int, int] = (1920, 1080), empty: bool = False) -> None:
        self.name, self.rate, self.fps, self.start, self.length, self.size = name, rate, fps, start, length, size
        self.marks: dict = {}
        self.markers: dict = {}
        shot = [] if empty else [TimelineItem("shot.mov", start, length)]
        self.tracks = {"video": [{"sub": "", "locked": False, "items": shot}],
                       "audio": [{"sub": "stereo", "locked": False, "items": []}]}

    def _in_range(self, frame, absolute: bool) -> bool:
        first = self.start if absolute else 0
        return first <= int(frame) < first + self.length

    def picture(self, frame: int, width: int, height: int) -> np.ndarray:
        """What frame `frame` (absolute) looks like: a square that moves one pixel per frame."""
        img = np.full((height, width, 3), 40, np.uint8)
        x = (frame - self.start) % max(1, width - height // 4)
        img[height // 3: height // 3 + height // 4, x: x + height // 4] = 230
        return img

    def GetName(self):
        return self.name

    def GetStartFrame(self):
        return self.start

    def GetEndFrame(self):
        return self.start + self.length - 1

    def GetSetting(self, name=None):
        values = {"timelineFrameRate": self.rate, "timelineResolutionWidth": str(self.size[0]),
                  "timelineResolutionHeight": str(self.size[1]), "timelineDropFrameTimecode": "0"}
        return values if name is None else values.get(name, "")

    def GetMarkInOut(self):
        return copy.deepcopy(self.marks)

    def SetMarkInOut(self, mark_in, mark_out, kind="all"):
        absolute = self._quirks.marks_absolute
        if not (self._in_range(mark_in, absolute) and self._in_range(mark_out, absolute)) or mark_out < mark_in:
            return False
        for k in (("video", "audio") if kind == "all" else (kind,)):
            self.marks[k] = {"in": int(mark_in), "out": int(mark_out)}
        return True

    def ClearMarkInOut(self, kind="all"):
        self.marks = {}
        return True

    def AddMarker(self, frame, color, name, note, duration, custom_data=""):
        if frame in self.markers or not self._in_range(frame, self._quirks.markers_absolute):
            return False
        self.markers[frame] = {"color": color, "duration": duration, "note": note, "name": name,
                               "customData": custom_data}
        return True

    def GetMarkers(self):
        return copy.deepcopy(self.markers)

    def GetTrackCount(self, kind):
        return len(self.tracks.get(kind, []))

    def GetTrackSubType(self, kind, index):
        return self.tracks[kind][index - 1]["sub"] if kind == "audio" else ""

    def GetIsTrackLocked(self, kind, index):
        return self.tracks[kind][index - 1]["locked"]

    def GetItemListInTrack(self, kind, index):
        tracks = self.tracks.get(kind, [])
        return list(tracks[index - 1]["items"]) if 1 <= index <= len(tracks) else None

    def AddTrack(self, kind, sub=None):
        if isinstance(sub, dict):
            audio_type = sub.get("audioType", "mono")
        else:
            audio_type = "mono" if self._quirks.add_track_mono else (sub or "mono")
        self.tracks[kind].append({"sub": audio_type if kind == "audio" else "", "locked": False, "items": []})
        return True

    def add_audio_track(self, sub: str, items=(), locked=False) -> None:
        """Test set-up: a track with clips at (absolute start, duration)."""
        self.tracks["audio"].append({"sub": sub, "locked": locked,
                                     "items": [TimelineItem(f"existing-{s}", s, d) for s, d in items]})


# ---- project and rendering -------------------------------------------------------------------

AUDIO_ONLY = {"format": "mp4", "codec": "H264", "ExportVideo": False, "ExportAudio": True, "audio_only": True}
H264_MASTER = {"format": "mp4", "codec": "H264", "ExportVideo": True, "ExportAudio": True, "audio_only": False}
RENDER_KEYS = {"SelectAllFrames", "MarkIn", "MarkOut", "TargetDir", "CustomName", "UniqueFilenameStyle",
               "ExportVideo", "ExportAudio", "FormatWidth", "FormatHeight", "FrameRate", "VideoQuality",
               "AudioCodec", "AudioBitDepth", "AudioSampleRate"}


class Project(ResolveObject):
    def __init__(self, resolve: Resolve, timeline: Timeline, polls_per_render: int = 4) -> None:
        self.resolve, self.timelines, self.current = resolve, [timeline], timeline
        self.media_pool = MediaPool(self)
        self.presets = {"Audio Only": dict(AUDIO_ONLY), "H.264 Master": dict(H264_MASTER)}
        self.state = dict(AUDIO_ONLY)  # the user last rendered audio only: the trap
        self.mode = 0
        self.jobs: dict[str, dict] = {}
        self.polls_per_render = polls_per_render
        self.render_log: list[dict] = []

    def GetName(self):
        return "Fake project"

    @property
    def timeline(self):
        return self.current

    def GetCurrentTimeline(self):
        return self.current

    def SetCurrentTimeline(self, timeline):
        if timeline not in self.timelines:
            return False
        self.current = timeline
        return True

    def GetTimelineCount(self):
        return len(self.timelines)

    def GetTimelineByIndex(self, index):
        return self.timelines[index - 1] if 1 <= index <= len(self.timelines) else None

    def GetMediaPool(self):
        return self.media_pool

    def GetRenderPresetList(self):
        return list(self.presets)

    def LoadRenderPreset(self, name):
        if name not in self.presets:
            return False
        if self._quirks.presets_keep_only_format:
            self.state.update(self.presets[name])
        else:
            self.state = dict(self.presets[name])
        return True

    def SaveAsNewRenderPreset(self, name):
        if name in self.presets:
            return False
        kept = set(AUDIO_ONLY) if self._quirks.presets_keep_only_format else set(self.state)
        self.presets[name] = {k: v for k, v in self.state.items() if k in kept}
        return True

    def DeleteRenderPreset(self, name):
        return self.presets.pop(name, None) is not None

    def GetRenderFormats(self):
        return {"MP4": "mp4", "QuickTime": "mov"}

    def GetRenderCodecs(self, fmt):
        return {"H.264": "H264", "H.265": "H265"} if fmt in ("mp4", "mov") else {}

    def GetCurrentRenderFormatAndCodec(self):
        return {"format": self.state["format"], "codec": self.state["codec"]}

    def SetCurrentRenderFormatAndCodec(self, fmt, codec):
        if codec not in self.GetRenderCodecs(fmt).values():
            return False
        self.state.update(format=fmt, codec=codec)
        return True

    def GetCurrentRenderMode(self):
        return self.mode

    def SetCurrentRenderMode(self, mode):
        self.mode = int(mode)
        return True

    def SetRenderSettings(self, settings):
        if not set(settings) <= RENDER_KEYS:
            return False
        for key, value in settings.items():
            if key == "ExportVideo" and self.state.get("audio_only"):
                continue  # inherited from the loaded audio-only preset, whatever was asked
            self.state[key] = value
        return True

    def AddRenderJob(self):
        s, tl = self.state, self.timeline
        if not s.get("TargetDir") or not Path(s["TargetDir"]).is_dir():
            return ""
        job = f"job-{next(_ids)}"
        self.jobs[job] = {"settings": dict(s), "status": "Ready", "percent": 0, "polls": 0,
                          "OutputFilename": f"{s.get('CustomName', tl.name)}.{s['format']}"}
        return job

    def GetRenderJobList(self):
        return [{"JobId": j, "TargetDir": d["settings"]["TargetDir"], "OutputFilename": d["OutputFilename"],
                 "MarkIn": d["settings"].get("MarkIn"), "MarkOut": d["settings"].get("MarkOut"),
                 "FormatWidth": d["settings"].get("FormatWidth"), "FormatHeight": d["settings"].get("FormatHeight"),
                 "IsExportVideo": d["settings"].get("ExportVideo")} for j, d in self.jobs.items()]

    def DeleteRenderJob(self, job):
        return self.jobs.pop(job, None) is not None

    def StartRendering(self, *args):
        if args and isinstance(args[-1], bool):
            args = args[:-1]
        ids = list(args[0]) if args and isinstance(args[0], (list, tuple)) else list(args) or list(self.jobs)
        if not ids or any(j not in self.jobs for j in ids):
            return False
        for j in ids:
            self.jobs[j]["status"] = "Rendering"
        return True

    def IsRenderingInProgress(self):
        return any(d["status"] == "Rendering" for d in self.jobs.values())

    def StopRendering(self):
        for d in self.jobs.values():
            if d["status"] == "Rendering":
                d["status"] = "Cancelled"

    def GetRenderJobStatus(self, job):
        d = self.jobs.get(job)
        if d is None:
            return {}
        if d["status"] == "Rendering":
            d["polls"] += 1
            d["percent"] = min(100, 100 * d["polls"] // self.polls_per_render)
            if d["polls"] >= self.polls_per_render:
                d["status"] = self._render(d)
        return {"JobStatus": d["status"], "CompletionPercentage": d["percent"]}

    def _render(self, job: dict) -> str:
        s, tl = job["settings"], self.timeline
        first, last = (tl.start, tl.start + tl.length - 1) if s.get("SelectAllFrames") else (s["MarkIn"], s["MarkOut"])
        if first < tl.start or last > tl.start + tl.length - 1 or last < first:
            return "Failed"  # e.g. relative marks given where absolute ones belong
        width, height = int(s.get("FormatWidth", tl.size[0])), int(s.get("FormatHeight", tl.size[1]))
        path = Path(s["TargetDir"]) / job["OutputFilename"]
        if s.get("ExportVideo"):
            from mfmjt_core.media import write_video

            frames = np.stack([tl.picture(f, width, height) for f in range(first, last + 1)])
            write_video(path, frames, tl.fps)
        else:
            _write_audio_only_mp4(path, (last - first + 1) / tl.fps)
        self.render_log.append({"first": first, "last": last, "width": width, "height": height,
                                "video": bool(s.get("ExportVideo")), "path": path})
        return "Complete"


def _write_audio_only_mp4(path: Path, seconds: Fraction) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48_000)
        stream.layout = "mono"
        samples = np.zeros((1, int(seconds * 48_000)), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


class ProjectManager(ResolveObject):
    def __init__(self, project: Project) -> None:
        self.project = project

    def GetCurrentProject(self):
        return self.project


class Resolve(ResolveObject):
    """`Resolve(timeline)`; `product` is "DaVinci Resolve Studio" or "DaVinci Resolve"."""

    def __init__(self, timeline: Timeline, product: str = "DaVinci Resolve Studio", polls_per_render: int = 4,
                 quirks: Quirks = NO_QUIRKS):
        self.product, self.page = product, "edit"
        self.project = Project(self, timeline, polls_per_render)
        self.manager = ProjectManager(self.project)
        for obj in (self, self.project, self.project.media_pool, timeline, self.manager):
            obj._quirks = quirks

    def GetProductName(self):
        return self.product

    def GetVersionString(self):
        return "20.2.0.0"

    def GetProjectManager(self):
        return self.manager

    def GetCurrentPage(self):
        return self.page

    def OpenPage(self, name):
        self.page = name
        return True


def timeline_23976(length: int = 240, size=(1920, 1080)) -> Timeline:
    """01:00:00:00 at 23.976: frame 86400 (the timecode counts 24 frames a second)."""
    return Timeline("Reel 1 23.976", "23.976", Fraction(24000, 1001), 86400, length, size)


def timeline_2997(length: int = 300, size=(1280, 720)) -> Timeline:
    """01:00:00:00 non-drop at 29.97: frame 108000."""
    return Timeline("Reel 2 29.97", "29.97", Fraction(30000, 1001), 108000, length, size)
