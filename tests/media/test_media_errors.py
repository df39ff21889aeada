"""Every kind of bad input gets its typed error, quickly, with a message naming the problem."""

from __future__ import annotations

import os
import time
from fractions import Fraction

import numpy as np
import pytest
from media_copies import remux

from mfmjt_core.errors import MediaError
from mfmjt_core.media import (
    EmptyRangeError,
    MediaNotFoundError,
    MediaUnreadableError,
    NoAudioStreamError,
    NoVideoStreamError,
    RangeOutsideMediaError,
    clip_frames,
    decode_frames,
    probe,
    read_audio,
    sync_frames,
    write_audio,
    write_video,
)

READERS = {
    "probe": probe,
    "clip_frames": lambda p: clip_frames(p, 0.0, 1.0),
    "sync_frames": lambda p: sync_frames(p, 0.0, 1.0),
    "read_audio": read_audio,
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, make_clip):
    folder = tmp_path_factory.mktemp("bad")
    good = make_clip(Fraction(25), 2.0).read_bytes()
    files = {
        "missing": (folder / "missing.mp4", MediaNotFoundError, "no such file"),
        "folder": (folder / "a_folder.mp4", MediaNotFoundError, "folder"),
        "empty": (folder / "empty.mp4", MediaUnreadableError, "empty"),
        "text": (folder / "notes.mp4", MediaUnreadableError, "not a readable media file"),
        "garbage": (folder / "noise.mp4", MediaUnreadableError, "not a readable media file"),
        "truncated": (folder / "cut.mp4", MediaUnreadableError, "not a readable media file"),
    }
    (folder / "a_folder.mp4").mkdir()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is not a video\n" * 50)
    noise = np.random.default_rng(3).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    (folder / "noise.mp4").write_bytes(noise)
    # PyAV writes the index (moov) at the end: cutting the file loses it, as a stopped copy does.
    (folder / "cut.mp4").write_bytes(good[: len(good) * 2 // 3])
    if hasattr(os, "mkfifo"):  # a pipe would block FFmpeg's probe forever if it were opened
        os.mkfifo(folder / "pipe.mp4")
        files["pipe"] = (folder / "pipe.mp4", MediaNotFoundError, "not a regular file")
    return files


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize(
    "case", ["missing", "folder", "empty", "text", "garbage", "truncated", "pipe"]
)
def test_unusable_files_raise_typed_errors_fast(bad_files, reader, case):
    if case not in bad_files:
        pytest.skip("no named pipes on this platform")
    path, error, words = bad_files[case]
    begun = time.perf_counter()
    with pytest.raises(error, match=words) as caught:
        READERS[reader](path)
    assert time.perf_counter() - begun < 2.0
    assert isinstance(caught.value, MediaError) and caught.value.exit_code == 3
    assert caught.value.code == "bad_media"  # the daemon's wire code stays the family's


def test_no_video_stream(tmp_path):
    wav = write_audio(tmp_path / "speech.wav", np.zeros((1, 8000), np.float32), 16_000)
    with pytest.raises(NoVideoStreamError, match="no video stream"):
        clip_frames(wav, 0.0, 0.5)
    info = probe(wav)
    assert (info.has_video, info.has_audio, info.fps, info.variable_frame_rate) == (
        False, True, None, None
    )


def test_no_audio_stream(make_clip):
    with pytest.raises(NoAudioStreamError, match="no audio stream"):
        read_audio(make_clip(Fraction(25), 2.0))


@pytest.mark.parametrize(
    ("start", "end", "error", "words"),
    [
        (2.5, 3.0, RangeOutsideMediaError, "only 2.000 s long"),
        (2.0, 2.1, RangeOutsideMediaError, "only 2.000 s long"),
        (-0.5, 1.0, RangeOutsideMediaError, "before 0"),
        (1.0, 1.0, EmptyRangeError, "zero or negative"),
        (1.0, 0.5, EmptyRangeError, "zero or negative"),
        (float("nan"), 1.0, RangeOutsideMediaError, "not finite"),
    ],
)
def test_bad_ranges(make_clip, tmp_path, start, end, error, words):
    video = make_clip(Fraction(25), 2.0)
    audio = tmp_path / "two_seconds.wav"
    write_audio(audio, np.zeros((1, 32_000), np.float32), 16_000)
    with pytest.raises(error, match=words):
        decode_frames(video, start, end, Fraction(8))
    with pytest.raises(error, match=words):
        read_audio(audio, start=start, end=end)


def test_bad_frame_rate_is_a_value_error(make_clip):
    with pytest.raises(ValueError, match="positive"):
        decode_frames(make_clip(Fraction(25), 2.0), 0.0, 1.0, Fraction(0))


def test_audio_shorter_than_the_video(tmp_path, codes):
    half_second = np.zeros((1, 8000), np.float32)
    path = write_video(
        tmp_path / "short_audio.mp4", codes.make(50), Fraction(25), audio=half_second,
        sample_rate=16_000,
    )
    with pytest.raises(RangeOutsideMediaError, match="audio of .* ends at"):
        read_audio(path, start=1.0, end=1.5)


def test_truncated_file_with_index_in_front_returns_what_exists(tmp_path, codes):
    # A "fast start" MP4 keeps its index first, so a cut copy still opens; the missing tail must
    # end decoding quickly and show up as repeated frames, not hang or fail.
    # Noise makes every frame a sizeable packet, so the cut lands mid-stream.
    noise = np.random.default_rng(5).integers(-40, 41, (50, 80, 128, 3))
    frames = np.clip(codes.make(50).astype(int) + noise, 0, 255).astype(np.uint8)
    source = write_video(tmp_path / "noisy.mp4", frames, Fraction(25), gop=12)
    data = remux(source, tmp_path / "faststart.mp4", movflags="faststart").read_bytes()
    cut = tmp_path / "cut_faststart.mp4"
    cut.write_bytes(data[: len(data) // 2])

    begun = time.perf_counter()
    batch = decode_frames(cut, 0.0, 2.0, Fraction(25))
    assert time.perf_counter() - begun < 2.0
    idx = codes.read(batch.frames)
    assert len(batch) == 50 and 0 < batch.repeated < 50
    np.testing.assert_array_equal(idx[: 50 - batch.repeated], np.arange(50 - batch.repeated))
    assert (idx[50 - batch.repeated :] == idx[49 - batch.repeated]).all()
