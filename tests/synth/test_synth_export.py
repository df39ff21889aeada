"""Export round trip: MP4 (H.264 + AAC) with the right frame count and audio length."""

from __future__ import annotations

import av
import numpy as np
import soundfile as sf

from mfmjt_core.synth import make_clip
from mfmjt_core.synth.export import read_sidecar, write_clip


def test_write_clip_round_trip(tmp_path):
    clip = make_clip(3)  # 29.97 fps, a machine hums and cubes bounce
    files = write_clip(clip, tmp_path / "sub" / "clip.mp4")
    with av.open(str(files.video)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert video.average_rate == clip.fps
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(files.video)) as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert len(frames) == clip.n_frames
    assert abs(decoded.size - clip.audio.size) <= 1024  # at most one AAC frame of padding
    assert np.abs(frames[60].astype(int) - clip.frames[60]).mean() < 6  # lossy but close
    wave, rate = sf.read(files.wav, dtype="float32")
    assert rate == 16_000 and np.array_equal(wave, clip.audio)
    meta = read_sidecar(files.video)
    assert meta["caption"] == clip.caption and meta["fps"] == "30000/1001"
    assert len(meta["events"]) == len(clip.events)
    assert meta["events"][0]["time_s"] == clip.events[0].time_s
