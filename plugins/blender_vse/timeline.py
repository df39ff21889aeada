"""Which frames to generate for, and where the results go: plain functions over a scene."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import compat

MAX_CHANNEL = 128
NAME_BYTES = 60  # Blender strip names hold 63 bytes; keep room for its ".001" suffixes


@dataclass(frozen=True)
class FrameRange:
    """Timeline frames [start, end) and what chose them ("selection", "preview", "scene", "playhead")."""

    start: int
    end: int
    source: str

    @property
    def frames(self) -> int:
        return self.end - self.start


def scene_fps(scene: Any) -> Fraction:
    """The scene's exact frame rate: fps / fps_base, with 29.97 as 30000/1001 in either spelling."""
    # fps_base is stored as a 32-bit float (1.001 reads back as 1.00100004...); 1001 is the
    # largest denominator broadcast rates use, so snap to it.
    base = Fraction(scene.render.fps_base).limit_denominator(1001)
    return Fraction(scene.render.fps) / base


def seconds(frames: int, fps: Fraction) -> float:
    return float(frames / fps)


def frames_for(duration_s: float, fps: Fraction) -> int:
    """Whole frames covering `duration_s` seconds (at least one)."""
    return max(1, round(Fraction(duration_s).limit_denominator(1_000_000) * fps))


def selected_strips(scene: Any) -> list[Any]:
    return [s for s in compat.strips(scene) if s.select]


def generation_range(scene: Any) -> FrameRange:
    """The union of the selected strips, else the preview range, else the scene range."""
    chosen = selected_strips(scene)
    if chosen:
        spans = [compat.span(s) for s in chosen]
        return FrameRange(min(a for a, _ in spans), max(b for _, b in spans), "selection")
    if scene.use_preview_range:
        return FrameRange(scene.frame_preview_start, scene.frame_preview_end + 1, "preview")
    return FrameRange(scene.frame_start, scene.frame_end + 1, "scene")


def playhead_range(scene: Any, duration_s: float) -> FrameRange:
    """`duration_s` seconds of timeline starting at the current frame."""
    start = scene.frame_current
    return FrameRange(start, start + frames_for(duration_s, scene_fps(scene)), "playhead")


def overlaps(strip: Any, frames: FrameRange) -> bool:
    a, b = compat.span(strip)
    return a < frames.end and frames.start < b


def picture_channel(scene: Any, frames: FrameRange) -> int:
    """The highest channel holding picture in the range (the selection's, when it was selected):
    results go above it. 0 when the range shows no picture."""
    if frames.source == "selection":
        candidates = selected_strips(scene)
    else:
        candidates = [s for s in compat.strips(scene) if overlaps(s, frames)]
    pictures = [s.channel for s in candidates if not compat.is_sound(s)]
    return max(pictures, default=0)


def free_channels(scene: Any, frames: FrameRange, above: int, count: int) -> list[int]:
    """The first `count` channels above `above` with no strip in `frames` (ValueError if full)."""
    busy = {s.channel for s in compat.strips(scene) if overlaps(s, frames)}
    found = [c for c in range(above + 1, MAX_CHANNEL + 1) if c not in busy][:count]
    if len(found) < count:
        raise ValueError(f"no {count} free channel(s) above {above} between frames {frames.start} and {frames.end}")
    return found


def strip_name(prompt: str, seed: int) -> str:
    """'<prompt> (seed N)', the prompt shortened so the whole fits a strip name."""
    tail = f" (seed {seed})"
    text = " ".join(prompt.split()) or "MF-MJT"
    room = NAME_BYTES - len(tail.encode())
    if len(text.encode()) > room:
        text = text.encode()[: room - 3].decode(errors="ignore").rstrip() + "..."
    return text + tail


def file_stem(prompt: str, seed: int, job: str) -> str:
    """A file-system-safe name for one take: a slug of the prompt, the seed, the job."""
    slug = "".join(c if c.isalnum() else "_" for c in prompt.lower())[:40].strip("_") or "mfmjt"
    while "__" in slug:
        slug = slug.replace("__", "_")
    return f"{slug}_seed{seed}_{job[:8]}"
