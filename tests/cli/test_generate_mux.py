"""`mfmjt generate VIDEO --mux COPY`: the copy carries the take where the range lies in the
video, never replaces the video, and a picture its container cannot carry is refused before any
sound is made."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from mfmjt_cli.entry import main
from mfmjt_core.media import read_audio, write_video

TINY = ["--model", "tiny-random"]


@pytest.fixture(scope="module")
def six_seconds(tmp_path_factory):
    """A 6 s, 25 fps H.264 clip with moving content (the encoders see a picture, not a flat field)."""
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 255, (150, 48, 64, 3), dtype=np.uint8)
    return write_video(tmp_path_factory.mktemp("mux") / "six.mp4", frames, Fraction(25))


def _first_sound(wave: np.ndarray, rate: int) -> float:
    loud = np.flatnonzero(np.abs(wave[0]) > 0.25 * np.abs(wave[0]).max())
    return float(loud[0]) / rate


def _envelope(wave: np.ndarray, rate: int) -> np.ndarray:
    """Level in 20 ms frames (AAC keeps a take's envelope, not its samples)."""
    hop = rate // 50
    frames = wave[0, : wave.shape[1] // hop * hop].reshape(-1, hop)
    return np.log10(1e-6 + np.sqrt((frames**2).mean(axis=1)))


def test_a_range_inside_the_video_sounds_at_its_place_in_the_copy(six_seconds, tmp_path):
    take, copy = tmp_path / "take.wav", tmp_path / "copy.mp4"
    code = main(["generate", str(six_seconds), "--start", "3", "-d", "2", "--seed", "5", *TINY,
                 "-o", str(take), "--mux", str(copy)])
    assert code == 0
    made, rate = read_audio(take)
    heard, heard_rate = read_audio(copy, start=0.0, end=6.0, sample_rate=rate)
    assert heard_rate == rate
    before, during = heard[:, : 3 * rate], heard[:, 3 * rate : 5 * rate]
    assert np.abs(before).max() < 1e-3  # nothing before the range
    # the take itself, from 3 s on: its first loud sample within a millisecond of the WAV's
    # (containers keep edit times in milliseconds), and the same sound there
    assert abs(_first_sound(during, rate) - _first_sound(made, rate)) < 1e-3
    assert np.corrcoef(_envelope(during, rate), _envelope(made, rate))[0, 1] > 0.9
    with av.open(str(copy)) as c:
        assert float(c.streams.video[0].duration * c.streams.video[0].time_base) == pytest.approx(6.0, abs=0.05)


def test_the_copy_may_not_be_the_video_itself(six_seconds, tmp_path, capsys):
    before = six_seconds.read_bytes()
    code = main(["generate", str(six_seconds), "-d", "1", *TINY, "-o", str(tmp_path / "t.wav"),
                 "--mux", str(six_seconds)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "is the video itself" in lines[0], lines
    assert six_seconds.read_bytes() == before and not (tmp_path / "t.wav").exists()


def test_a_picture_the_container_cannot_carry_is_refused_before_generation(tmp_path, capsys):
    raw = tmp_path / "raw.mkv"
    with av.open(str(raw), "w") as c:
        stream = c.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 9, np.uint8), format="rgb24")
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)
    code = main(["generate", str(raw), *TINY, "-o", str(tmp_path / "t.wav"), "--mux", str(tmp_path / "c.mp4")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    # raw video goes into neither MP4 nor Matroska (its header is refused), only into MOV
    assert "cannot copy the picture (rawvideo) into c.mp4" in lines[0], lines
    assert "an .mov copy can carry it" in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.mkv"]  # no take, no copy
    assert main(["generate", str(raw), *TINY, "-o", str(tmp_path / "t.wav"), "--mux", str(tmp_path / "c.mov")]) == 0
    with av.open(str(tmp_path / "c.mov")) as c:
        assert c.streams.video[0].codec_context.name == "rawvideo" and len(c.streams.audio) == 1
