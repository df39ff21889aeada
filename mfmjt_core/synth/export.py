"""Write clips of the world to disk: H.264/AAC MP4, exact float WAV, and a JSON sidecar.

The sidecar holds everything needed to evaluate against the clip without regenerating it:
seed, caption, frame rate, sample rate and the ground-truth events and objects.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mfmjt_core.synth.world import Clip, SynthError, neutral_frames

SIDECAR_VERSION = 1


@dataclass(frozen=True)
class ClipFiles:
    """Paths written by `write_clip`."""

    video: Path
    wav: Path
    sidecar: Path


def clip_metadata(clip: Clip) -> dict:
    """JSON-ready description of a clip: caption, timing, events and objects."""
    return {
        "version": SIDECAR_VERSION,
        "seed": clip.seed,
        "caption": clip.caption,
        "fps": f"{clip.fps.numerator}/{clip.fps.denominator}",
        "n_frames": clip.n_frames,
        "duration_s": clip.duration_s,
        "sample_rate": clip.sample_rate,
        "n_samples": int(clip.audio.shape[0]),
        "floor_material": clip.scene.floor_material,
        "events": [dataclasses.asdict(e) for e in clip.events],
        "objects": [dataclasses.asdict(o) for o in clip.objects],
    }


def write_clip(clip: Clip, path_mp4: str | os.PathLike, *, neutral_looks: bool = False) -> ClipFiles:
    """Write `clip` as an MP4 (H.264 + AAC), a float WAV and a JSON sidecar beside it
    (same name, suffixes .wav and .json). Returns the three paths. `neutral_looks`: write the
    frames `neutral_frames` redraws (no ball or cube shows its material), and say so in the
    sidecar."""
    from mfmjt_core.media import write_audio, write_video  # PyAV is only needed here

    if clip.frames is None:
        raise SynthError("this clip was made with with_frames=False; it has no frames to write")
    if neutral_looks:
        clip = dataclasses.replace(clip, frames=neutral_frames(clip))
    video = Path(path_mp4).expanduser()
    video.parent.mkdir(parents=True, exist_ok=True)
    audio = clip.audio[None, :]
    write_video(video, clip.frames, clip.fps, audio=audio, sample_rate=clip.sample_rate)
    wav = write_audio(video.with_suffix(".wav"), audio, clip.sample_rate, subtype="FLOAT")
    sidecar = video.with_suffix(".json")
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    meta = clip_metadata(clip) | ({"neutral_looks": True} if neutral_looks else {})
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, sidecar)
    return ClipFiles(video, wav, sidecar)


def read_sidecar(path: str | os.PathLike) -> dict:
    """The metadata written by `write_clip` (give the .json, .mp4 or .wav path)."""
    return json.loads(Path(path).with_suffix(".json").read_text())
