"""The cache directory, presence checks and the missing-weights message."""

from __future__ import annotations

import hashlib
import json

import pytest

from mfmjt_cli.entry import main
from mfmjt_core.errors import MissingWeightsError, WeightsError
from mfmjt_core.weights import (
    DEFAULT_REGISTRY,
    ENV_VAR,
    Artifact,
    License,
    cache_dir,
    find,
    is_present,
    path_of,
    resolve_bundle,
    verify_file,
)
from mfmjt_core.weights.cache import hub_cached_path

LIC = License("L", "https://example.invalid/l")


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    default = cache_dir()
    assert default.name.lower() == "mfmjt"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    art = DEFAULT_REGISTRY.artifact("synchformer")
    assert path_of(art) == tmp_path / "env/mmaudio/ext_weights/synchformer_state_dict.pth"


def test_presence_size_and_checksum(tmp_path):
    data = b"weights" * 100
    art = Artifact("a", "https://example.invalid/a.pth", "a.pth", "x", LIC,
                   md5=hashlib.md5(data).hexdigest(), size=len(data))
    assert not is_present(art, tmp_path)
    path = path_of(art, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(data[:-1])
    assert not is_present(art, tmp_path)  # wrong size
    with pytest.raises(WeightsError, match="bytes"):
        verify_file(art, path)
    path.write_bytes(data)
    assert is_present(art, tmp_path) and is_present(art, tmp_path, verify=True)
    path.write_bytes(data[::-1])  # same size, other bytes
    assert is_present(art, tmp_path) and not is_present(art, tmp_path, verify=True)
    with pytest.raises(WeightsError, match="md5"):
        verify_file(art, path)


def test_missing_bundle_error_names_command_and_paths(tmp_path):
    with pytest.raises(MissingWeightsError) as info:
        resolve_bundle("mmaudio-small-16k", tmp_path)
    msg = str(info.value)
    assert f"mfmjt fetch mmaudio-small-16k --cache-dir {tmp_path}" in msg
    assert str(tmp_path / "mmaudio/ext_weights/synchformer_state_dict.pth") in msg
    assert str(tmp_path / "mmaudio/weights/mmaudio_small_16k.pth") in msg
    assert info.value.exit_code == 5


def test_bundle_resolves_once_files_are_copied_in(tmp_path):
    bundle = DEFAULT_REGISTRY.bundle("mmaudio-small-16k")
    for name in bundle.artifact_names[:-1]:
        p = path_of(DEFAULT_REGISTRY.artifact(name), tmp_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    with pytest.raises(MissingWeightsError, match="open_clip_pytorch_model.bin") as info:
        resolve_bundle("mmaudio-small-16k", tmp_path)
    assert "v1-16.pth" not in str(info.value).split("\n")[0]
    # CLIP's safetensors twin is accepted in place of the .bin
    clip = DEFAULT_REGISTRY.artifact("clip_dfn5b_h14_384")
    twin = path_of(clip, tmp_path).with_name("open_clip_model.safetensors")
    twin.parent.mkdir(parents=True)
    twin.write_bytes(b"x")
    paths = resolve_bundle("mmaudio-small-16k", tmp_path)
    assert paths["clip"] == twin
    assert paths["vocoder"] == tmp_path / "mmaudio/ext_weights/best_netG.pt"


def test_hub_cache_copy_is_found_offline(tmp_path):
    clip = DEFAULT_REGISTRY.artifact("clip_dfn5b_h14_384")
    repo = tmp_path / "models--apple--DFN5B-CLIP-ViT-H-14-384"
    snap = repo / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert hub_cached_path(clip, tmp_path) is None
    (snap / "open_clip_pytorch_model.bin").write_bytes(b"x")
    assert hub_cached_path(clip, tmp_path) == snap / "open_clip_pytorch_model.bin"
    assert find(DEFAULT_REGISTRY.artifact("vae_16k"), tmp_path / "cache") is None


def test_models_command_lists_bundles_and_presence(tmp_path, capsys):
    p = path_of(DEFAULT_REGISTRY.artifact("synchformer"), tmp_path)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"x")
    assert main(["models", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "mmaudio-large-44k-v2" in out and "CC-BY-NC-4.0" in out
    line = next(l for l in out.splitlines() if l.strip().startswith("synchformer "))
    assert "present" in line
    assert main(["models", "--json", "--cache-dir", str(tmp_path)]) == 0
    info = json.loads(capsys.readouterr().out)
    by_name = {a["name"]: a for a in info["artifacts"]}
    assert by_name["synchformer"]["present"] and not by_name["vae_16k"]["present"]
    assert {b["name"] for b in info["bundles"]} >= {"mmaudio-small-16k", "mmaudio-small-44k"}
    assert not any(b["present"] for b in info["bundles"])
