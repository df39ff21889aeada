"""Turning a daemon result into WAV files and sound strips (main thread only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import bpy

from . import compat, timeline
from .timeline import FrameRange

AUDIO_DIR = "mfmjt_audio"


@dataclass(frozen=True)
class Placement:
    """Where a job's takes go: the frames they cover and the channel they must sit above."""

    frames: FrameRange
    above_channel: int
    prompt: str


def audio_folder(package: str) -> tuple[str, str | None]:
    """(absolute folder, blend-relative prefix or None) for new audio files: `//mfmjt_audio/`
    beside a saved blend file, else the extension's user folder (an unsaved file has no folder)."""
    if bpy.data.filepath:
        folder = bpy.path.abspath(f"//{AUDIO_DIR}")
        os.makedirs(folder, exist_ok=True)
        return folder, f"//{AUDIO_DIR}/"
    return compat.extension_user_dir(package, "audio"), None


def place_result(scene: Any, result: Any, placement: Placement, package: str, write_wav: Any) -> list[Any]:
    """Write each variation as a WAV and add it as a sound strip at the range's first frame, on
    the first free channels above the picture; each strip is cut to the range's length.

    `write_wav(path, result, variation=i)` is the client's writer. Raises ValueError when the
    channels above the picture are full, OSError when the files cannot be written.
    """
    frames = placement.frames
    channels = timeline.free_channels(scene, frames, placement.above_channel, result.variations)
    folder, relative = audio_folder(package)
    strips = []
    for index, channel in enumerate(channels):
        seed = result.seeds[index] if index < len(result.seeds) else 0
        filename = timeline.file_stem(placement.prompt, seed, result.job) + (f"_v{index}" if index else "") + ".wav"
        path = write_wav(os.path.join(folder, filename), result, variation=index)
        filepath = relative + filename if relative else str(path)
        strip = compat.new_sound(scene, timeline.strip_name(placement.prompt, seed), filepath, channel, frames.start)
        if compat.span(strip)[1] > frames.end:  # audio rounded up to whole frames or samples
            compat.set_end(strip, frames.end)
        strip["mfmjt_prompt"] = placement.prompt
        strip["mfmjt_seed"] = seed if seed < 2**31 else str(seed)  # ID properties hold 32-bit ints
        strips.append(strip)
    return strips
