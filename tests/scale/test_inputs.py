"""Reading extraction inputs: folders with sidecars, VGGSound / AudioCaps / WavCaps lists."""

from __future__ import annotations

import json

import pytest

from mfmjt_core.training.features_inputs import InputListError, InputRow, list_inputs


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_folder_rows_take_sidecar_captions_and_skip_soundtracks(tmp_path):
    touch(tmp_path / "a.mp4")
    touch(tmp_path / "a.wav")  # the soundtrack of a.mp4 (as `mfmjt synth` writes it): not a row
    (tmp_path / "a.json").write_text(json.dumps({"caption": "a ball bounces"}))
    touch(tmp_path / "sub" / "b.flac")
    (tmp_path / "sub" / "b.txt").write_text("rain on a roof\n")
    touch(tmp_path / "c.mov")
    touch(tmp_path / "notes.md")
    rows = list_inputs(tmp_path)
    assert rows == [
        InputRow("a", str(tmp_path / "a.mp4"), "a ball bounces"),
        InputRow("c", str(tmp_path / "c.mov"), None),
        InputRow("sub/b", str(tmp_path / "sub" / "b.flac"), "rain on a roof"),
    ]


def test_vggsound_csv_without_header_finds_cut_clips(tmp_path):
    media = tmp_path / "video"
    touch(media / "abc_000030.mp4")  # downloaded clip cut at 30 s: the row starts at 0 in it
    touch(media / "xyz.mp4")  # a whole video: the row keeps its start
    (tmp_path / "vggsound.csv").write_text(
        'abc,30,"dog barking",train\nxyz,12,"people cheering",test\nmissing,5,"car horn",train\n')
    rows = list_inputs(tmp_path / "vggsound.csv", media_root=media)
    assert rows[0] == InputRow("abc", str(media / "abc_000030.mp4"), "dog barking", 0.0, None)
    assert rows[1] == InputRow("xyz", str(media / "xyz.mp4"), "people cheering", 12.0, None)
    assert rows[2].path == str(media / "missing") and rows[2].start == 5.0  # reported at extraction
    assert [r.id for r in list_inputs(tmp_path / "vggsound.csv", media_root=media, split="train")] == [
        "abc", "missing"]


def test_audiocaps_csv_and_tsv_with_headers(tmp_path):
    touch(tmp_path / "audio" / "91139.wav")
    (tmp_path / "train.csv").write_text(
        "audiocap_id,youtube_id,start_time,caption\n91139,r1nicOVtvkQ,130,A woman talks\n"
        "91139,r1nicOVtvkQ,130,Someone speaks\n")
    rows = list_inputs(tmp_path / "train.csv", media_root=tmp_path / "audio")
    assert [r.path for r in rows] == [str(tmp_path / "audio" / "91139.wav")] * 2
    assert [r.id for r in rows] == ["91139", "91139~2"]  # ids stay unique
    # start_time is the start in the YouTube video; the downloaded clip is already cut there
    assert rows[0].caption == "A woman talks" and rows[0].start == 0.0
    (tmp_path / "list.tsv").write_text("path\tcaption\tstart\tend\naudio/91139.wav\twind\t1.5\t9.5\n")
    (row,) = list_inputs(tmp_path / "list.tsv")
    assert row == InputRow("91139", str(tmp_path / "audio" / "91139.wav"), "wind", 1.5, 9.5)


def test_audiocaps_clips_named_by_youtube_id_and_missing_ones(tmp_path):
    touch(tmp_path / "a" / "r1nicOVtvkQ.wav")  # a downloader that names the cut by youtube id
    touch(tmp_path / "a" / "YZn4ViKWcw.flac")  # AudioSet style
    (tmp_path / "train.csv").write_text(
        "audiocap_id,youtube_id,start_time,caption\n91139,r1nicOVtvkQ,130,A woman talks\n"
        "5,Zn4ViKWcw,20,A dog barks\n7,gone,10,Wind blows\n")
    rows = list_inputs(tmp_path / "train.csv", media_root=tmp_path / "a")
    assert rows[0] == InputRow("r1nicOVtvkQ", str(tmp_path / "a" / "r1nicOVtvkQ.wav"), "A woman talks", 0.0)
    assert rows[1] == InputRow("Zn4ViKWcw", str(tmp_path / "a" / "YZn4ViKWcw.flac"), "A dog barks", 0.0)
    assert rows[2].path == str(tmp_path / "a" / "gone")  # kept, reported as missing by the extraction


def test_wavcaps_published_json_files(tmp_path):
    """The four parts as published (json_files/*/*.json): "audio" is the placeholder
    "wav_path", FreeSound's "file_name" is the uploader's name, AudioSet ids end in .wav; the
    distributed audio is <id>.flac."""
    for name in ("Yb0RFKhbpFJA.flac", "180913.flac", "NHU05051026.flac", "2219.flac"):
        touch(tmp_path / "audio" / name)
    parts = {
        "as_final.json": {"id": "Yb0RFKhbpFJA.wav", "caption": "Wind and a man speaking.",
                          "audio": "wav_path", "duration": 10.0},
        "fsd_final.json": {"id": "180913", "file_name": "UK Mello.wav", "href": "/people/x/sounds/180913/",
                           "duration": 3.2, "caption": "A ringtone is playing.", "audio": "wav_path"},
        "bbc_final.json": {"description": "Cicada", "category": "['Nature']", "caption": "A bug stridulates.",
                           "id": "NHU05051026", "duration": 88.8, "audio": "wav_path"},
        "sb_final.json": {"title": "Airplane Landing Airport", "caption": "An airplane is landing.",
                          "id": "2219", "duration": 14.1, "audio": "wav_path"},
    }
    found = []
    for name, entry in parts.items():
        missing = {**entry, "id": "404" + entry["id"]}
        (tmp_path / name).write_text(json.dumps({"num_captions_per_audio": 1, "data": [entry, missing]}))
        rows = list_inputs(tmp_path / name, media_root=tmp_path / "audio")
        assert len(rows) == 2 and rows[0].caption == entry["caption"] and rows[0].start == 0.0
        found.append(rows[0].path)
        assert not (tmp_path / rows[1].path).exists()  # kept: the extraction reports it
    assert found == [str(tmp_path / "audio" / n) for n in
                     ("Yb0RFKhbpFJA.flac", "180913.flac", "NHU05051026.flac", "2219.flac")]


def test_wavcaps_json(tmp_path):
    touch(tmp_path / "Y7fmOlUlwoNg.flac")
    (tmp_path / "as.json").write_text(json.dumps({"data": [
        {"id": "7fmOlUlwoNg", "caption": "Water flows", "duration": 10.0},
        {"id": "x", "audio": "x.flac", "caption": "Birds"}]}))
    rows = list_inputs(tmp_path / "as.json")
    assert rows[0].path == str(tmp_path / "Y7fmOlUlwoNg.flac") and rows[0].caption == "Water flows"
    assert rows[1].path == str(tmp_path / "x.flac")


def test_bad_lists_are_typed_errors(tmp_path):
    with pytest.raises(InputListError):
        list_inputs(tmp_path / "nothing-here")
    (tmp_path / "bad.tsv").write_text("path\tstart\na.wav\tsoon\n")
    with pytest.raises(InputListError, match="not a number"):
        list_inputs(tmp_path / "bad.tsv")
