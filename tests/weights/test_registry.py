"""The registry of published files and bundles: facts and lookups."""

from __future__ import annotations

import re

import pytest

from mfmjt_core.errors import UnknownModelError
from mfmjt_core.weights import DEFAULT_REGISTRY, Artifact, Bundle, License, Registry

# md5 sums as published in MMAudio's download_utils.py (research/method.md 3.7)
PUBLISHED_MD5 = {
    "mmaudio_small_16k.pth": "af93cde404179f58e3919ac085b8033b",
    "mmaudio_small_44k.pth": "babd74c884783d13701ea2820a5f5b6d",
    "mmaudio_medium_44k.pth": "5a56b6665e45a1e65ada534defa903d0",
    "mmaudio_large_44k.pth": "fed96c325a6785b85ce75ae1aafd2673",
    "mmaudio_large_44k_v2.pth": "01ad4464f049b2d7efdaa4c1a59b8dfe",
    "v1-16.pth": "69f56803f59a549a1a507c93859fd4d7",
    "best_netG.pt": "eeaf372a38a9c31c362120aba2dde292",
    "v1-44.pth": "fab020275fa44c6589820ce025191600",
    "synchformer_state_dict.pth": "5b2f5594b0730f70e41e549b7c94390c",
}


def test_published_checksums_and_urls():
    by_file = {a.filename: a for a in DEFAULT_REGISTRY.artifacts.values()}
    for filename, md5 in PUBLISHED_MD5.items():
        assert by_file[filename].md5 == md5
    for a in DEFAULT_REGISTRY.artifacts.values():
        assert a.url.startswith("https://") and a.url.endswith("/" + a.filename)
        assert a.md5 is None or re.fullmatch(r"[0-9a-f]{32}", a.md5)
        assert a.license.name and a.license.url.startswith("https://")
    assert by_file["mmaudio_small_16k.pth"].url == (
        "https://huggingface.co/hkchengrex/MMAudio/resolve/main/weights/mmaudio_small_16k.pth"
    )
    assert by_file["v1-16.pth"].url == (
        "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/v1-16.pth"
    )


def test_bundles_name_their_components():
    small = DEFAULT_REGISTRY.bundle("mmaudio-small-16k")
    assert small.artifact_for("network") == "mmaudio_small_16k"
    assert small.artifact_for("vae") == "vae_16k"
    assert small.artifact_for("vocoder") == "bigvgan_16k"
    assert small.artifact_for("synchformer") == "synchformer"
    assert small.artifact_for("clip") == "clip_dfn5b_h14_384"
    assert small.sample_rate == 16_000
    for name in ("mmaudio-small-44k", "mmaudio-medium-44k", "mmaudio-large-44k",
                 "mmaudio-large-44k-v2"):
        b = DEFAULT_REGISTRY.bundle(name)
        assert b.artifact_for("vae") == "vae_44k"
        assert b.artifact_for("vocoder") == "bigvgan_v2_44k_generator"
        assert b.artifact_for("vocoder_config") == "bigvgan_v2_44k_config"
        assert b.sample_rate == 44_100
    clip = DEFAULT_REGISTRY.artifact("clip_dfn5b_h14_384")
    assert clip.hub_repo == "apple/DFN5B-CLIP-ViT-H-14-384"
    gen = DEFAULT_REGISTRY.artifact("bigvgan_v2_44k_generator")
    assert gen.hub_repo == "nvidia/bigvgan_v2_44khz_128band_512x"
    # generic hub names must not collide in the cache
    paths = [a.relpath for a in DEFAULT_REGISTRY.artifacts.values()]
    assert len(paths) == len(set(paths))


def test_unknown_names_are_typed_errors():
    with pytest.raises(UnknownModelError, match="mmaudio-small-16k"):
        DEFAULT_REGISTRY.bundle("mmaudio-tiny")
    with pytest.raises(UnknownModelError):
        DEFAULT_REGISTRY.resolve("nothing")
    assert [a.name for a in DEFAULT_REGISTRY.resolve("vae_16k")] == ["vae_16k"]


def test_registry_rejects_bundles_with_unknown_artifacts():
    lic = License("x", "https://example.invalid/x")
    art = Artifact("a", "http://127.0.0.1/a", "a.bin", "t", lic)
    with pytest.raises(ValueError, match="unknown"):
        Registry.of([art], [Bundle("b", "", (("network", "missing"),))])


# SHA-256 of the hub's weight files as the hub publishes them (Git LFS details of the blob pages:
# apple/DFN5B-CLIP-ViT-H-14-378 open_clip_pytorch_model.bin, the repo the -384 name redirects to;
# nvidia/bigvgan_v2_44khz_128band_512x bigvgan_generator.pt on main since v2.4).
PUBLISHED_SHA256 = {
    "clip_dfn5b_h14_384": "c07a17b547d461c60a3cce5062b26bf8545b13de602c4c59d8490361eb716033",
    "bigvgan_v2_44k_generator": "d9fe7ec6bd0b44ed9d66973d5012d8181c1570b01e5c72df51973e241dccd357",
}


def test_every_weights_file_has_a_published_checksum():
    for a in DEFAULT_REGISTRY.artifacts.values():
        if a.name in PUBLISHED_SHA256:
            assert a.sha256 == PUBLISHED_SHA256[a.name]
        if a.filename.endswith((".pt", ".pth", ".bin", ".safetensors")) and a.name != "empty_string":
            assert a.md5 or a.sha256, a.name  # (empty_string.pth: MMAudio publishes none)
        if a.sha256 is not None:
            assert re.fullmatch(r"[0-9a-f]{64}", a.sha256)
    unpinned = {a.name for a in DEFAULT_REGISTRY.artifacts.values() if a.hub_repo and not a.sha256}
    assert unpinned == {"bigvgan_v2_44k_config"}  # a plain git file: the hub publishes no SHA-256


def test_a_hub_file_that_is_not_the_published_one_fails_verification(tmp_path):
    from mfmjt_core.errors import WeightsError
    from mfmjt_core.weights.cache import verify_file

    clip = DEFAULT_REGISTRY.artifacts["clip_dfn5b_h14_384"]
    impostor = tmp_path / clip.filename
    impostor.write_bytes(b"not the CLIP weights")
    with pytest.raises(WeightsError, match="sha256"):
        verify_file(clip, impostor)
