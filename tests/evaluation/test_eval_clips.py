"""`mfmjt eval clips` below the command line: finding files in a messy folder, the reason each
unusable file is skipped for, and the scores by content (a soundtrack against itself, shifted,
or silence) through the same scoring function as `eval synth`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mfmjt_core.errors import MediaError, UsageError
from mfmjt_core.evaluation.clips import (
    ClipRow,
    ClipsSettings,
    NoUsableClipsError,
    aggregate,
    check_file,
    codec_round_trip,
    find_files,
    prepare_out,
    scan,
    score_against_soundtrack,
    soundtrack_truth,
)
from mfmjt_core.evaluation.embedding import embed_db
from mfmjt_core.evaluation.scoring import SAMPLE_RATE
from tests.evaluation.clip_folder import write_clip_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("my-videos")
    return root, write_clip_folder(root)


@pytest.fixture(scope="module")
def soundtrack(folder) -> np.ndarray:
    """The decoded soundtrack (16 kHz mono) of the folder's MP4: AAC, not the synthetic original."""
    from mfmjt_core.media import read_audio

    wave, _ = read_audio(folder[0] / "kitchen take 1.mp4", start=0.0, end=2.0, sample_rate=SAMPLE_RATE, channels=1)
    return wave[0]


def _row(truth_audio: np.ndarray, generated: np.ndarray, name: str) -> tuple[ClipRow, np.ndarray]:
    truth = soundtrack_truth(truth_audio, 0, name)
    row = ClipRow(name, Path(name), duration_s=truth_audio.size / SAMPLE_RATE, generate_s=0.1)
    row.score = score_against_soundtrack(generated, truth)
    return row, embed_db(truth.mel_db)


def test_a_soundtrack_against_itself_scores_perfectly(soundtrack):
    truth = soundtrack_truth(soundtrack)
    assert truth.onsets.size >= 3  # the clip has impacts the detector finds: F1 1.0 is not vacuous
    score = score_against_soundtrack(soundtrack, truth)
    assert score.onset.f1 == 1.0 and score.onset.n_matched == truth.onsets.size
    assert score.onset.median_abs_offset_ms == 0.0
    assert score.mel_l1_db == 0.0
    rows = [_row(soundtrack, soundtrack, "a"), _row(soundtrack[::-1].copy(), soundtrack[::-1].copy(), "b")]
    folder_row = aggregate([r for r, _ in rows], [e for _, e in rows])
    assert folder_row.onset.f1 == 1.0 and folder_row.mel_l1_db == 0.0
    assert folder_row.frechet == pytest.approx(0.0, abs=1e-6 * np.trace(np.cov(rows[0][1], rowvar=False)))
    assert folder_row.windows == 2 * 3 and folder_row.rtf == pytest.approx(0.2 / 4.0)


def test_onsets_count_within_the_tolerance_only(soundtrack):
    truth = soundtrack_truth(soundtrack)
    for delay_ms, f1 in ((20, 1.0), (120, 0.0)):
        late = np.concatenate([np.zeros(delay_ms * SAMPLE_RATE // 1000, np.float32), soundtrack])
        score = score_against_soundtrack(late, truth)  # trimmed to the soundtrack's length
        if f1:
            assert score.onset.f1 == 1.0
            assert score.onset.median_abs_offset_ms == pytest.approx(delay_ms, abs=5.0)
        else:  # only chance pairs with neighbouring hits remain, each within the tolerance
            assert score.onset.f1 <= 0.5 and score.onset.n_estimated >= truth.onsets.size - 1
            assert all(abs(o) <= 0.05 + 1e-9 for o in score.onset.offsets_s)
        assert score.mel_l1_db > 1.0


def test_silence_finds_nothing_and_is_far(soundtrack):
    truth = soundtrack_truth(soundtrack)
    score = score_against_soundtrack(np.zeros(100, np.float32), truth)  # padded to the soundtrack
    assert score.onset.n_estimated == 0 and score.onset.recall == 0.0 and score.onset.f1 == 0.0
    assert score.mel_l1_db > 10.0
    # half the level: the same onsets, 6.02 dB lower wherever the sound is above the -80 dB floor
    quieter = score_against_soundtrack(soundtrack * 0.5, truth)
    assert quieter.onset.f1 == 1.0 and 1.0 < quieter.mel_l1_db <= 20 * np.log10(2) + 1e-4


def test_the_folder_row_needs_two_windows_for_a_frechet_distance():
    short = np.random.default_rng(0).standard_normal(SAMPLE_RATE // 2).astype(np.float32) * 0.1
    row, emb = _row(short, short, "short")
    result = aggregate([row], [emb])
    assert result.windows == 1 and result.frechet is None and result.clips == 1


def test_top_level_only_unless_recursive_hidden_and_output_left_out(folder):
    root, kinds = folder
    (root / "results").mkdir(exist_ok=True)
    (root / "results" / "old.mp4").write_bytes(b"x")
    top = [p.relative_to(root).as_posix() for p in find_files(root, exclude=root / "results")]
    assert top == sorted(kinds)
    deep = [p.relative_to(root).as_posix() for p in find_files(root, recursive=True, exclude=root / "results")]
    assert deep == sorted([*kinds, "sub/deeper.mkv"])


def test_each_unusable_file_has_its_reason(folder):
    root, kinds = folder
    for name, kind in kinds.items():
        row = ClipRow(name, root / name)
        check_file(row, max_seconds=None)
        if kind == "clip":
            assert row.reason == "" and row.duration_s == pytest.approx(2.0, abs=0.15), name
        else:
            assert kind in row.reason and str(root) not in row.reason, (name, row.reason)


def test_odd_sizes_and_rates_are_described(folder):
    root, _ = folder
    rows = {r.name: r for r in scan(ClipsSettings(root, root / "out"))}
    assert rows["odd.webm"].media.startswith("vp9 95x71 24 fps, opus 48000 Hz")
    assert rows["screen.MOV"].media.startswith("mjpeg 91x63 15 fps, pcm_s16le 44100 Hz")
    assert rows["kitchen take 1.mp4"].media.startswith("h264 160x90 29.97 fps, aac")
    limited = {r.name: r for r in scan(ClipsSettings(root, root / "out", max_seconds=1.5))}
    assert limited["odd.webm"].duration_s == 1.5 and limited["odd.webm"].file_duration_s > 1.9


def test_empty_or_unusable_folders_are_media_errors(tmp_path, folder):
    root, kinds = folder
    with pytest.raises(NoUsableClipsError, match="no files in .* without --recursive") as empty:
        scan(ClipsSettings(tmp_path, tmp_path / "out"))
    assert empty.value.exit_code == 3
    bad = tmp_path / "bad"
    bad.mkdir()
    for name, kind in kinds.items():
        if kind != "clip":
            (bad / name).write_bytes((root / name).read_bytes())
    with pytest.raises(NoUsableClipsError, match="no usable clip") as unusable:
        scan(ClipsSettings(bad, tmp_path / "out"))
    assert all(name in str(unusable.value) for name in kinds if kinds[name] != "clip")
    with pytest.raises(MediaError, match="does not exist"):
        scan(ClipsSettings(tmp_path / "nope", tmp_path / "out"))


def test_the_output_folder_is_checked_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        prepare_out(tmp_path, tmp_path / "file")
    with pytest.raises(UsageError, match="must not be the clips folder"):
        prepare_out(tmp_path, tmp_path / ".")
    made = prepare_out(tmp_path, tmp_path / "a" / "b")
    assert made.is_dir()


def test_the_codec_ceiling_keeps_the_soundtracks_onsets(soundtrack):
    """The embedded model's codec (log-mel, Griffin-Lim) round trip of a decoded soundtrack, one
    window and (9 s) two stitched windows: same length, the onsets survive, far closer than
    silence."""
    from mfmjt_core.pipeline.generator import Generator
    from tests.evaluation.clip_folder import world_clip

    generator = Generator.load(None)
    long = world_clip(1, 9.0).audio
    for audio in (soundtrack, long):
        truth = soundtrack_truth(audio)
        trip = codec_round_trip(generator, audio)
        assert trip.shape == audio.shape and np.isfinite(trip).all()
        score = score_against_soundtrack(trip, truth)
        silence = score_against_soundtrack(np.zeros_like(audio), truth)
        assert truth.onsets.size >= 3 and score.onset.f1 >= 0.8, score.onset
        assert score.mel_l1_db < 0.5 * silence.mel_l1_db
