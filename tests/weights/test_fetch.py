"""Fetching against a real HTTP server on loopback serving synthetic files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mfmjt_cli.entry import main
from mfmjt_core.errors import WeightsError
from mfmjt_core.weights import (
    Artifact,
    Bundle,
    DownloadError,
    License,
    LicenseNotAcceptedError,
    Registry,
    download,
    fetch_bundle,
    path_of,
    resolve_bundle,
)

LICENSE = License("Test-NC", "https://example.invalid/licence", "test licence")
FREE = License("Test-free", "https://example.invalid/free", "no questions", needs_acceptance=False)


def payload(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def artifact(server, name: str, data: bytes, *, md5: bool = True, size: bool = False, lic=LICENSE):
    server.files[f"/files/{name}.bin"] = data
    return Artifact(
        name=name, url=f"{server.url}/files/{name}.bin", filename=f"{name}.bin",
        subdir="test/ext", license=lic,
        md5=hashlib.md5(data).hexdigest() if md5 else None, size=len(data) if size else None,
    )


def all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_full_download_of_a_bundle(file_server, tmp_path):
    a = artifact(file_server, "net", payload(300_000, 1))
    b = artifact(file_server, "vae", payload(70_000, 2), size=True)
    reg = Registry.of([a, b], [Bundle("tiny", "test", (("network", "net"), ("vae", "vae")))])
    seen = []
    paths = fetch_bundle("tiny", accept_license=True, cache=tmp_path, registry=reg,
                         progress=lambda name, done, total: seen.append((name, done, total)))
    assert paths == [tmp_path / "test/ext/net.bin", tmp_path / "test/ext/vae.bin"]
    assert paths[0].read_bytes() == file_server.files["/files/net.bin"]
    assert paths[1].read_bytes() == file_server.files["/files/vae.bin"]
    assert all_files(tmp_path) == ["test/ext/net.bin", "test/ext/vae.bin"]  # no .part left
    assert seen[-1] == ("vae", 70_000, 70_000) and ("net", 300_000, 300_000) in seen
    assert resolve_bundle("tiny", tmp_path, registry=reg) == {
        "network": paths[0], "vae": paths[1]}
    # a second fetch finds everything present: no request, no licence question
    file_server.requests.clear()
    fetch_bundle("tiny", accept_license=False, cache=tmp_path, registry=reg)
    assert file_server.requests == []


def test_resume_after_truncated_part_file(file_server, tmp_path):
    data = payload(200_000, 3)
    a = artifact(file_server, "sync", data)
    part = path_of(a, tmp_path).with_name("sync.bin.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:123_456])
    assert download(a, cache=tmp_path) == path_of(a, tmp_path)
    assert path_of(a, tmp_path).read_bytes() == data
    assert file_server.requests == [("/files/sync.bin", "bytes=123456-")]
    assert not part.exists()


def test_interrupted_transfer_keeps_part_and_next_call_resumes(file_server, tmp_path):
    data = payload(150_000, 4)
    a = artifact(file_server, "voc", data)
    file_server.cut_after["/files/voc.bin"] = 40_000
    with pytest.raises(DownloadError, match="resume"):
        download(a, cache=tmp_path, chunk_size=8192)
    part = path_of(a, tmp_path).with_name("voc.bin.part")
    assert part.stat().st_size == 40_000 and not path_of(a, tmp_path).exists()
    download(a, cache=tmp_path)
    assert path_of(a, tmp_path).read_bytes() == data
    assert file_server.requests[-1] == ("/files/voc.bin", "bytes=40000-")


def test_server_ignoring_range_restarts_cleanly(file_server, tmp_path):
    data = payload(50_000, 5)
    a = artifact(file_server, "clip", data)
    part = path_of(a, tmp_path).with_name("clip.bin.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 10_000)  # wrong bytes: only a restart from zero can fix them
    file_server.ignore_range = True
    download(a, cache=tmp_path)
    assert path_of(a, tmp_path).read_bytes() == data


def test_checksum_mismatch_leaves_nothing(file_server, tmp_path):
    a = artifact(file_server, "bad", payload(60_000, 6))
    file_server.files["/files/bad.bin"] = payload(60_000, 7)  # server now serves other bytes
    with pytest.raises(WeightsError, match="md5"):
        fetch_bundle("bad", accept_license=True, cache=tmp_path,
                     registry=Registry.of([a]))
    assert all_files(tmp_path) == []


def test_size_mismatch_without_checksum_leaves_nothing(file_server, tmp_path):
    a = artifact(file_server, "short", payload(10_000, 8), md5=False, size=True)
    file_server.files["/files/short.bin"] = payload(12_000, 8)
    with pytest.raises(WeightsError, match="size"):
        download(a, cache=tmp_path)
    assert all_files(tmp_path) == []


def test_404_is_a_clear_error(file_server, tmp_path):
    a = artifact(file_server, "gone", b"x")
    del file_server.files["/files/gone.bin"]
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download(a, cache=tmp_path)
    assert a.url in str(info.value)
    assert all_files(tmp_path) == []


def test_licence_must_be_accepted_before_any_request(file_server, tmp_path):
    a = artifact(file_server, "net", payload(1000, 9))
    free = artifact(file_server, "cfg", b"{}", lic=FREE)
    reg = Registry.of([a, free], [Bundle("b", "", (("network", "net"), ("cfg", "cfg")))])
    with pytest.raises(LicenseNotAcceptedError, match="Test-NC"):
        fetch_bundle("b", accept_license=False, cache=tmp_path, registry=reg)
    shown = []
    with pytest.raises(LicenseNotAcceptedError):
        fetch_bundle("b", accept_license=lambda notice: shown.append(notice) or False,
                     cache=tmp_path, registry=reg)
    assert "https://example.invalid/licence" in shown[0] and "net.bin" in shown[0]
    assert file_server.requests == [] and all_files(tmp_path) == []
    # a file whose licence needs no acceptance is fetched without asking
    fetch_bundle("cfg", accept_license=False, cache=tmp_path, registry=reg)
    assert all_files(tmp_path) == ["test/ext/cfg.bin"]


def test_fetch_command_refuses_without_licence(tmp_path, capsys):
    # stdin is not a terminal under pytest, so nobody is asked: refused before any download
    code = main(["fetch", "mmaudio-small-16k", "--cache-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "CC-BY-NC-4.0" in err and "--accept-license" in err
    assert all_files(tmp_path) == []


def test_fetch_command_unknown_bundle(tmp_path, capsys):
    assert main(["fetch", "no-such-model", "--cache-dir", str(tmp_path)]) == 4
    assert "mmaudio-small-16k" in capsys.readouterr().err
