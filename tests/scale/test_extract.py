"""`extract` on real files: features equal direct encoding, bad inputs are reported, resume and
rank sharding redo nothing that exists."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from mfmjt_core.training.extract import extract
from mfmjt_core.training.features_store import FeatureSet, FeatureStoreError, shard_name
from tests.scale.helpers import DURATION, extract_config, same_shard


def test_bad_inputs_are_reported_and_the_rest_extracted(extracted):
    out, summary, lines = extracted
    assert summary.index == out / "index.json" and summary.shards == 3
    assert (summary.rows_done, summary.rows_skipped) == (4, 2)
    report = json.loads((out / "report.json").read_text())
    reasons = {s["id"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"broken", "short"}
    assert "not a readable media file" in reasons["broken"]
    assert "2 s needed" in reasons["short"]
    index = json.loads((out / "index.json").read_text())
    assert (index["rows"], index["video_rows"], index["audio_rows"], index["skipped"]) == (4, 3, 1, 2)
    assert index["latent_shape"] == [63, 160] and index["clip_shape"] == [16, 32]
    assert index["sync_shape"] == [40, 32] and index["text_shape"] == [77, 32]
    assert any("ETA" in line for line in lines) and "2 skipped" in lines[-1]


def test_features_equal_direct_encoding(extracted, media_folder):
    from mfmjt_core import media
    from mfmjt_core.model import AudioModel
    from mfmjt_core.pipeline.frames import decode_for_encoders

    out, _, _ = extracted
    data = FeatureSet(out)
    meta = data.rows_meta()
    assert [m["id"] for m in meta] == ["clip1", "clip2", "clip3", "sound"]
    model = AudioModel.load(media_folder["model"])
    path = media_folder["clips"] / "clip2.mp4"
    f8, f25 = (f[None] for f in decode_for_encoders(model.encoders, path, 0.0, DURATION))  # as generation
    wave, _ = media.read_audio(path, start=0.0, end=DURATION, sample_rate=16_000, channels=1)
    with torch.no_grad():
        clip_f, sync_f = model.encoders.encode_video(f8, f25)
        text_f = model.encoders.encode_text([meta[1]["caption"]])
        latent = model.codec.encode(torch.from_numpy(wave))[:, :63]
    row = data.read([1])
    torch.testing.assert_close(row["clip_f"], clip_f, atol=2e-3, rtol=2e-3)  # stored as float16
    torch.testing.assert_close(row["sync_f"], sync_f, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(row["text_f"], text_f, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(row["latent_mean"], latent)
    assert not row["latent_std"].any()  # the mel codec is deterministic
    audio_row = data.read([3])
    assert audio_row["has_text"].item() and not audio_row["has_video"].item()
    assert not audio_row["clip_f"].any()


def test_rerun_skips_finished_shards_and_redoes_a_missing_one(extracted, media_folder, tmp_path):
    out, _, _ = extracted
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    again = extract(extract_config(media_folder, copy), progress=None, rank=0, world=1)
    assert again.written == 0 and again.index is not None
    (copy / shard_name(1)).unlink()
    (copy / "index.json").unlink()
    redo = extract(extract_config(media_folder, copy), progress=None, rank=0, world=1)
    assert redo.written == 1 and same_shard(copy / shard_name(1), out / shard_name(1))
    assert json.loads((copy / "index.json").read_text()) == json.loads((out / "index.json").read_text())
    with pytest.raises(FeatureStoreError, match="another extraction"):
        extract(extract_config(media_folder, copy, feature_dtype="float32"), progress=None, rank=0, world=1)


def test_each_rank_takes_its_shards(extracted, media_folder, tmp_path):
    out, _, _ = extracted
    first = extract(extract_config(media_folder, tmp_path), progress=None, rank=1, world=2)
    assert first.written == 1 and first.index is None  # shard 1 of 0..2; rank 0 has not run
    assert [p.name for p in sorted(tmp_path.glob("shard_*"))] == [shard_name(1)]
    last = extract(extract_config(media_folder, tmp_path), progress=None, rank=0, world=2)
    assert last.written == 2 and last.index == tmp_path / "index.json"
    for k in range(3):
        assert same_shard(tmp_path / shard_name(k), out / shard_name(k))


def test_an_audiocaps_list_of_downloaded_cuts_extracts_and_reports_missing_files(media_folder, tmp_path):
    """AudioCaps' train.csv as published: start_time is the start in the YouTube video, the
    downloaded files are already cut there; a clip that could not be downloaded is reported."""
    listing = tmp_path / "train.csv"
    listing.write_text("audiocap_id,youtube_id,start_time,caption\n"
                       "sound,r1nicOVtvkQ,130,A woman talks nearby as water pours\n"
                       "91140,gone_gone_0,30,A dog barks\n")
    config = dataclasses.replace(extract_config(media_folder, tmp_path / "f"), source=str(listing),
                                 media_root=str(media_folder["clips"]))
    lines: list[str] = []
    summary = extract(config, progress=lines.append, rank=0, world=1)
    assert (summary.rows_done, summary.rows_skipped) == (1, 1)
    assert "1 of 2 inputs name files that do not exist" in lines[0]
    (skipped,) = json.loads((tmp_path / "f" / "report.json").read_text())["skipped"]
    assert skipped["id"] == "gone_gone_0" and "no such file" in skipped["reason"]
    (row,) = FeatureSet(tmp_path / "f").rows_meta()
    assert row["start"] == 0.0 and row["caption"] == "A woman talks nearby as water pours"
