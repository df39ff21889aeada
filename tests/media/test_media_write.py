"""Writing MP4s, muxing audio without touching the picture, and atomic outputs."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile as sf

from mfmjt_core.media import (
    MediaError,
    MediaUnreadableError,
    MediaWriteError,
    NoVideoStreamError,
    mux_audio,
    probe,
    read_audio,
    write_audio,
    write_video,
)
from mfmjt_core.media.atomic import TEMP_MARKER


def video_packets(path) -> list[tuple[int | None, bytes]]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [(p.pts, bytes(p)) for p in c.demux(stream) if p.dts is not None]


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if TEMP_MARKER in p.name]


def tone(seconds: float, rate: int, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.repeat((0.3 * np.sin(2 * np.pi * 330 * t))[None], channels, 0).astype(np.float32)


def test_write_video_with_audio_round_trips(tmp_path, codes):
    rate = Fraction(30000, 1001)
    path = write_video(
        tmp_path / "v.mp4", codes.make(60), rate, audio=tone(2.0, 16_000, 1), sample_rate=16_000
    )
    info = probe(path)
    assert (info.fps, info.width, info.height, info.has_audio) == (rate, 128, 80, True)
    assert (info.video_codec, info.audio_codec, info.audio_sample_rate) == ("h264", "aac", 16_000)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    np.testing.assert_array_equal(codes.read(decoded), np.arange(60))
    wave, sr = read_audio(path, start=0.5, end=1.5)
    assert sr == 16_000 and wave.shape == (1, 16_000)


def test_mux_copies_picture_packets_byte_for_byte_and_adds_48k_audio(tmp_path, make_clip):
    source = make_clip(Fraction(25), 2.0, audio=tone(2.0, 44_100), sample_rate=44_100)
    out = mux_audio(source, tone(2.0, 16_000, 1), 16_000, tmp_path / "preview.mp4")

    assert video_packets(out) == video_packets(source)
    info = probe(out)
    assert (info.audio_sample_rate, info.audio_channels, info.audio_codec) == (48_000, 1, "aac")
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1 and len(c.streams.video) == 1
    wave, sr = read_audio(out, start=0.25, end=1.75)
    assert sr == 48_000 and wave.shape == (1, 72_000)
    ideal = 0.3 * np.sin(2 * np.pi * 330 * (0.25 + np.arange(72_000) / 48_000))
    assert np.sqrt(np.mean((wave[0] - ideal) ** 2)) < 0.02  # the new audio, in place in time


def test_mux_onto_itself_is_atomic(tmp_path, codes):
    path = write_video(tmp_path / "same.mp4", codes.make(25), Fraction(25))
    before = video_packets(path)
    mux_audio(path, tone(1.0, 48_000), 48_000, path)
    assert video_packets(path) == before and probe(path).has_audio
    assert leftovers(tmp_path) == []


def test_failed_mux_leaves_nothing_and_keeps_an_existing_output(tmp_path):
    wav = write_audio(tmp_path / "only_audio.wav", tone(0.5, 16_000), 16_000)
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"previous preview")
    with pytest.raises(NoVideoStreamError):
        mux_audio(wav, tone(0.5, 16_000), 16_000, existing)
    assert existing.read_bytes() == b"previous preview"
    assert leftovers(tmp_path) == []


def test_an_encoder_failure_is_a_write_error_without_leftovers(tmp_path, monkeypatch):
    # (a real full disk in the middle of writing: tests/media/test_media_output_sets.py)
    def broken_write(file, data, *args, **kwargs):
        file.write(b"RIFF half a header")
        raise sf.LibsndfileError(1, "encoder refused (simulated)")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(MediaWriteError, match="encoder refused"):
        write_audio(tmp_path / "a.wav", np.zeros((1, 100), np.float32), 16_000)
    assert list(tmp_path.iterdir()) == []


def test_encoder_failure_is_a_write_error_without_leftovers(tmp_path, codes):
    # x264 refuses an unknown preset when it opens, after the output file was created.
    with pytest.raises(MediaWriteError, match="libx264"):
        write_video(tmp_path / "v.mp4", codes.make(5), Fraction(25), preset="no-such-preset")
    assert list(tmp_path.iterdir()) == []


def test_write_video_checks_its_input(tmp_path, codes):
    with pytest.raises(ValueError, match="must end in"):
        write_video(tmp_path / "a.wav", codes.make(3), Fraction(25))
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 8, 8, 3), np.float32), Fraction(25))
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 9, 8, 3), np.uint8), Fraction(25))
    with pytest.raises(ValueError, match="increasing"):
        write_video(tmp_path / "a.mp4", codes.make(3), Fraction(25), pts_seconds=[0, 0.1, 0.1])
    with pytest.raises(ValueError, match="1 or 2 channels"):
        write_video(tmp_path / "a.mp4", codes.make(3), 25, audio=tone(1, 8000, 3), sample_rate=8000)
    with pytest.raises(MediaWriteError, match="does not exist"):
        write_video(tmp_path / "no" / "a.mp4", codes.make(3), Fraction(25))
    assert list(tmp_path.iterdir()) == []


def test_damaged_input_to_mux_is_reported_as_unreadable(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(MediaUnreadableError):
        mux_audio(junk, tone(0.1, 48_000), 48_000, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]
    assert issubclass(MediaUnreadableError, MediaError)
