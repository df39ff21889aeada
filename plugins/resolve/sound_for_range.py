"""Sound for the In-Out range of Resolve's current timeline: read the range, render it, ask the
daemon, import the WAV into the "MF-MJT" bin, place it on a free stereo track, confirm.

The prompt is the name or note of the first timeline marker inside the range (so it lives in
the edit), else the settings file's `prompt`. Settings: `resolve.json` beside this package,
written by `mfmjt install-resolve`.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from .placement import BIN_NAME, PlacedClip, import_audio, place_audio
from .render import RenderOptions, TimelineRange, render_range
from .resolve_compat import ResolveScriptError, get_resolve, is_studio, mark_range, timeline_fps
from .transport import SoundRequest, choose_transport

SETTINGS_FILE = "resolve.json"


@dataclass(frozen=True)
class Settings:
    """The script's options (see `mfmjt install-resolve`); unknown keys in the file are ignored."""

    address: str | None = None
    transport: str = "auto"  # auto | direct | bridge
    bridge_command: tuple[str, ...] = ()
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    channels: int = 2
    audio_dir: str = str(Path.home() / "MF-MJT Audio")
    render_dir: str | None = None  # default: a temporary folder, deleted afterwards
    render_width: int = 640
    render_timeout_s: float = 900.0
    bin_name: str = BIN_NAME


def load_settings(path: Path | None) -> Settings:
    """Settings from a JSON file; defaults where the file or a key is missing."""
    data = {}
    if path is not None and Path(path).is_file():
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in data.items() if k in known}
    if "bridge_command" in values:
        values["bridge_command"] = tuple(values["bridge_command"] or ())
    return Settings(**values)


def read_range(timeline) -> TimelineRange:
    """The marked range of `timeline`; an error that says what to do when no marks are set."""
    marks = mark_range(timeline)
    if marks is None:
        raise ResolveScriptError("set In and Out marks (I and O keys) on the timeline around the shot first")
    mark_in, mark_out = marks
    if mark_out < mark_in:
        raise ResolveScriptError(f"the Out mark ({mark_out}) is before the In mark ({mark_in})")
    return TimelineRange(int(timeline.GetStartFrame()), mark_in, mark_out, timeline_fps(timeline))


def prompt_from_markers(timeline, rng: TimelineRange) -> str | None:
    """The note (else the name) of the first marker inside the range; markers are keyed by
    frames relative to the timeline start, like GetMarkInOut."""
    markers = timeline.GetMarkers() or {}
    for frame in sorted(markers, key=float):
        if rng.mark_in <= float(frame) <= rng.mark_out:
            marker = markers[frame] or {}
            text = str(marker.get("note") or "").strip() or str(marker.get("name") or "").strip()
            if text:
                return text
    return None


def _file_name(timeline, rng: TimelineRange) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(timeline.GetName() or "timeline")).strip("_") or "timeline"
    return f"{name}_{rng.record_in}-{rng.record_out}_{time.strftime('%Y%m%d-%H%M%S')}.wav"


@dataclass(frozen=True)
class Outcome:
    range: TimelineRange
    wav: Path
    seed: int | None
    placed: PlacedClip
    transport: str


def run(resolve, settings: Settings, log: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """The whole round trip for the current timeline; raises ResolveScriptError on failure."""
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    if timeline is None:
        raise ResolveScriptError("open a project and a timeline first")
    rng = read_range(timeline)
    prompt = prompt_from_markers(timeline, rng) or settings.prompt
    log(f"MF-MJT: {rng.frames} frames at {float(rng.fps):.3f} fps from frame {rng.record_in} "
        f"({rng.seconds:.2f} s), prompt {prompt!r}")
    transport = choose_transport(settings.transport, settings.address, settings.bridge_command)
    own_folder = settings.render_dir is None
    folder = Path(tempfile.mkdtemp(prefix="mfmjt-render-")) if own_folder else Path(settings.render_dir)
    video = None
    try:
        video = render_range(resolve, project, timeline, rng, folder,
                             RenderOptions(settings.render_width, settings.render_timeout_s), log, sleep)
        audio_dir = Path(settings.audio_dir).expanduser()
        audio_dir.mkdir(parents=True, exist_ok=True)
        request = SoundRequest(video, audio_dir / _file_name(timeline, rng), prompt, settings.negative_prompt,
                               settings.seed, settings.steps, settings.guidance, settings.channels)
        shown = []

        def progress(fraction: float, line: str) -> None:  # the job state machine's line
            phase = line.split(" ", 1)[0]  # queued, encoding, sampling, decoding, cancelling
            if phase not in shown:
                shown.append(phase)
                log(f"MF-MJT: {line}")

        audio = transport.generate(request, progress)
    finally:
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)
        elif video is not None:
            video.unlink(missing_ok=True)
    media_pool = project.GetMediaPool()
    item = import_audio(media_pool, audio.path, settings.bin_name)
    placed = place_audio(media_pool, timeline, item, rng)
    log(f"MF-MJT: placed {audio.path.name} on A{placed.track} at frame {placed.start} (seed {audio.seed})")
    return Outcome(rng, audio.path, audio.seed, placed, transport.name)


def main(resolve=None, settings_path: str | Path | None = None, namespace: dict | None = None) -> int:
    """Entry point of the menu script: run, report to Resolve's console, return 0 or 1."""
    resolve = resolve or get_resolve(namespace)
    if resolve is None:
        print("MF-MJT: run this from Workspace > Scripts inside DaVinci Resolve")
        return 1
    path = Path(settings_path) if settings_path else Path(__file__).resolve().parent.parent / SETTINGS_FILE
    try:
        settings = load_settings(path)
        if not is_studio(resolve):
            print("MF-MJT: DaVinci Resolve (free) — if anything fails, use the Lua script 'MF-MJT Sound (Lua)'")
        run(resolve, settings)
    except ResolveScriptError as exc:
        print(f"MF-MJT: {exc}")
        return 1
    return 0
