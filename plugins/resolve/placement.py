"""Import a generated WAV into the "MF-MJT" bin and place it on a free stereo audio track at the
range's absolute first frame, then read the track back: AppendToTimeline drops a clip that
would overlap another one without saying so, and may even return an item for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .render import TimelineRange
from .resolve_compat import ResolveScriptError, add_stereo_track, free_stereo_track, track_items

BIN_NAME = "MF-MJT"
AUDIO_ONLY = 2  # clipInfo mediaType: 1 video only, 2 audio only


@dataclass(frozen=True)
class PlacedClip:
    track: int
    start: int  # absolute timeline frame
    frames: int
    name: str


def media_bin(media_pool, name: str = BIN_NAME):
    """The bin called `name` directly under the media pool's root, created when missing."""
    root = media_pool.GetRootFolder()
    for folder in root.GetSubFolderList() or []:
        if folder.GetName() == name:
            return folder
    folder = media_pool.AddSubFolder(root, name)
    if not folder:
        raise ResolveScriptError(f"could not create the media pool bin {name!r}")
    return folder


def import_audio(media_pool, path: Path, bin_name: str = BIN_NAME):
    """Import `path` into the bin (ImportMedia only imports into the current folder, so switch
    to the bin and back) and return its MediaPoolItem."""
    previous = media_pool.GetCurrentFolder()
    media_pool.SetCurrentFolder(media_bin(media_pool, bin_name))
    try:
        items = media_pool.ImportMedia([str(path)]) or []
    finally:
        if previous:
            media_pool.SetCurrentFolder(previous)
    if not items:
        raise ResolveScriptError(f"Resolve could not import {path}")
    return items[0]


def clip_frames(item) -> int | None:
    """The clip's length in frames as Resolve counts it (a WAV takes the project rate at import);
    None when unreadable. Rounding may make it one frame shorter than the range."""
    try:
        return int(float(item.GetClipProperty("Frames")))
    except (TypeError, ValueError):
        return None


def place_audio(media_pool, timeline, item, rng: TimelineRange) -> PlacedClip:
    """Put the clip's first `rng.frames` frames on a free stereo track at `rng.record_in` and
    confirm it is there."""
    frames = min(rng.frames, clip_frames(item) or rng.frames)
    start, end = rng.record_in, rng.record_in + frames
    track = free_stereo_track(timeline, start, end) or add_stereo_track(timeline)
    media_pool.AppendToTimeline([{"mediaPoolItem": item, "startFrame": 0, "endFrame": frames,
                                  "mediaType": AUDIO_ONLY, "trackIndex": track, "recordFrame": start}])
    wanted = item.GetUniqueId()
    for placed in track_items(timeline, "audio", track):
        source = placed.GetMediaPoolItem()
        if int(placed.GetStart()) == start and source is not None and source.GetUniqueId() == wanted:
            return PlacedClip(track, start, int(placed.GetDuration()), str(placed.GetName()))
    raise ResolveScriptError(
        f"Resolve did not place the sound on audio track {track} at frame {start} (it drops clips "
        f"that would overlap another); it is in the {BIN_NAME!r} bin: drag it in by hand")
