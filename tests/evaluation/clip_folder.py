"""A messy folder of a user's videos, written with PyAV from clips of the procedural world.

Odd sizes and frame rates in the containers people have (MP4 H.264/AAC, WebM VP9/Opus, MOV
MJPEG/PCM, MKV FFV1/AAC), plus what such folders also hold: a video without sound, a file cut
short by an interrupted copy, a text file, an audio file, a hidden file and a subfolder.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000


def world_clip(index: int, seconds: float):
    """Test-split clip `index` of the world, `seconds` long (frames 96x96, audio 16 kHz mono)."""
    from mfmjt_core.synth import WorldConfig, make_clip, split_seeds

    return make_clip(split_seeds("test", index + 1)[index], config=WorldConfig(duration_s=seconds))


def resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of uint8 (T, H, W, 3) frames."""
    rows = np.arange(height) * frames.shape[1] // height
    cols = np.arange(width) * frames.shape[2] // width
    return np.ascontiguousarray(frames[:, rows][:, :, cols])


def retime(frames: np.ndarray, fps: Fraction, new_fps: Fraction) -> np.ndarray:
    """The frames shown at `new_fps` (each new frame is the one on screen at its time)."""
    seconds = len(frames) / fps
    count = int(seconds * new_fps)
    return frames[np.minimum((np.arange(count) / new_fps * fps).astype(int), len(frames) - 1)]


def write_av(path: Path, frames: np.ndarray, fps: Fraction, audio: np.ndarray | None = None,
             sample_rate: int = SAMPLE_RATE, *, video_codec: str = "libx264", audio_codec: str = "aac",
             pix_fmt: str = "yuv420p", audio_format: str = "fltp") -> Path:
    """Encode RGB frames (T, H, W, 3) and optional mono audio (N,) with any PyAV codecs."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        sound = None
        if audio is not None:
            sound = out.add_stream(audio_codec, rate=sample_rate)
            sound.layout = "mono"
        for frame in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(video.encode())
        if sound is not None:
            samples = np.asarray(audio, dtype=np.float32)[None]
            if audio_format == "s16":
                samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format=audio_format, layout="mono")
            frame.sample_rate = sample_rate
            out.mux(sound.encode(frame))
            out.mux(sound.encode())
    return path


def resample_to(audio: np.ndarray, rate: int) -> np.ndarray:
    from mfmjt_core.media import resample

    return resample(np.asarray(audio, np.float32)[None], SAMPLE_RATE, rate)[0]


def write_clip_folder(folder: Path, *, seconds: float = 2.0) -> dict[str, str]:
    """Write the messy folder; returns {relative name: what it is} ("clip" for the scorable
    videos, else the word the skip reason must contain)."""
    from mfmjt_core.media import write_audio, write_video

    folder.mkdir(parents=True, exist_ok=True)
    a, b, c = (world_clip(i, seconds) for i in (1, 3, 4))
    # a phone-like MP4 (H.264/AAC) at 29.97 fps, 160x90
    write_video(folder / "kitchen take 1.mp4", resize(retime(a.frames, a.fps, Fraction(30000, 1001)), 90, 160),
                Fraction(30000, 1001), audio=a.audio[None], sample_rate=SAMPLE_RATE)
    # odd size WebM (VP9/Opus at 48 kHz), 24 fps
    write_av(folder / "odd.webm", resize(retime(b.frames, b.fps, Fraction(24)), 71, 95), Fraction(24),
             resample_to(b.audio, 48_000), 48_000, video_codec="libvpx-vp9", audio_codec="libopus")
    # a screen recorder's MOV: MJPEG, 16-bit PCM at 44.1 kHz, 15 fps, 91x63
    write_av(folder / "screen.MOV", resize(retime(c.frames, c.fps, Fraction(15)), 63, 91), Fraction(15),
             resample_to(c.audio, 44_100), 44_100, video_codec="mjpeg", audio_codec="pcm_s16le",
             pix_fmt="yuvj420p", audio_format="s16")
    # a video without sound (MKV, FFV1)
    write_av(folder / "no sound.mkv", resize(a.frames[:25], 49, 67), Fraction(25), video_codec="ffv1")
    # an interrupted copy: the first part of an MP4 (its index is at the end)
    whole = (folder / "kitchen take 1.mp4").read_bytes()
    (folder / "copy.mp4").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.txt").write_text("shot list: kitchen, street, screen\n")
    write_audio(folder / "voice memo.wav", a.audio[None], SAMPLE_RATE)
    write_video(folder / ".hidden.mp4", a.frames[:10], a.fps, audio=a.audio[None, :6400], sample_rate=SAMPLE_RATE)
    (folder / "sub").mkdir(exist_ok=True)
    write_video(folder / "sub" / "deeper.mkv", a.frames[:25], a.fps, audio=a.audio[None, :16000],
                sample_rate=SAMPLE_RATE)
    return {"kitchen take 1.mp4": "clip", "odd.webm": "clip", "screen.MOV": "clip",
            "no sound.mkv": "no audio track", "copy.mp4": "not a readable video",
            "notes.txt": "not a readable video", "voice memo.wav": "no video stream"}
