"""A published-layout bundle (tiny synthetic weights) loads into a generator and samples like
MMAudio (flow matching, Euler steps, CFG), and converts into a MeanFlow starting point."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from mfmjt_core.errors import MissingWeightsError, WeightsError
from mfmjt_core.model import AudioModel
from mfmjt_core.model.file import read_model
from mfmjt_core.model.published import PublishedShapes, load_published, save_meanflow_start
from mfmjt_core.pipeline.generator import Generator
from tests.weights.tiny_bundle import SHAPES, write_tiny_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The small_16k bundle's files, in their published layouts, with tiny shapes."""
    cache = tmp_path_factory.mktemp("cache")
    where = write_tiny_bundle(cache, stale_buffers=True)  # stale buffers old checkpoints still carry
    return cache, where


def test_bundle_generates_like_mmaudio(bundle, tmp_path):
    from mfmjt_core.media import write_video

    cache, _ = bundle
    model = load_published("mmaudio-small-16k", cache=cache, shapes=SHAPES)
    assert model.spec.objective == "fm" and model.spec.defaults.steps == 25 and model.spec.defaults.guidance == 4.5
    assert not model.net.h_embed.mlp[2].weight.any()  # the MeanFlow embedding starts at zero
    frames = np.random.default_rng(0).integers(0, 255, (50, 48, 64, 3), dtype=np.uint8)
    video = write_video(tmp_path / "v.mp4", frames, Fraction(25))
    result = Generator(model).generate(video=video, seed=3, steps=2, prompt="a dog barks")
    assert result.audio.shape == (1, 1, 2 * 48_000) and np.isfinite(result.audio).all()
    assert result.model == "mmaudio-small-16k"


def test_meanflow_starting_point(bundle, tmp_path):
    cache, _ = bundle
    model = load_published("mmaudio-small-16k", cache=cache, shapes=SHAPES)
    path = save_meanflow_start(model, tmp_path / "start.safetensors")
    tensors, config = read_model(path)
    # the file names the bundle and the (non-published) sizes it was built with
    assert config["objective"] == "meanflow"
    assert config["encoders"]["kind"] == "mmaudio" and config["encoders"]["bundle"] == "mmaudio-small-16k"
    assert config["encoders"]["clip_image_size"] == 28 and config["codec"]["vae"]["embed_dim"] == 20
    assert all(k.startswith("net.") for k in tensors)
    assert not tensors["net.h_embed.mlp.2.weight"].any()


def test_a_file_naming_a_bundle_loads_from_the_cache_or_says_how_to_fetch(bundle, tmp_path, monkeypatch):
    cache, _ = bundle
    path = save_meanflow_start(load_published("mmaudio-small-16k", cache=cache, shapes=SHAPES),
                               tmp_path / "start.safetensors")
    monkeypatch.setenv("MFMJT_CACHE", str(tmp_path / "empty"))
    with pytest.raises(MissingWeightsError, match=r"(?s)uses the encoders and codec of mmaudio-small-16k.*"
                                                  r"best_netG.pt.*mfmjt fetch mmaudio-small-16k"):
        AudioModel.load(path)
    monkeypatch.setenv("MFMJT_CACHE", str(cache))
    model = AudioModel.load(path)
    assert model.spec.objective == "meanflow" and model.encoders.clip_dim == 16 and model.codec.latent_dim == 20


def test_published_sizes_are_not_written_into_model_files():
    assert PublishedShapes().encoders_spec("mmaudio-large-44k").to_dict() == {
        "kind": "mmaudio", "bundle": "mmaudio-large-44k"}
    assert PublishedShapes().codec_spec("mmaudio-large-44k").to_dict() == {
        "kind": "mmaudio", "bundle": "mmaudio-large-44k"}


def test_missing_and_broken_files(bundle, tmp_path):
    cache, where = bundle
    with pytest.raises(MissingWeightsError, match="mfmjt fetch mmaudio-small-16k"):
        load_published("mmaudio-small-16k", cache=tmp_path / "empty", shapes=SHAPES)
    broken = tmp_path / "broken"
    for role, path in where.items():
        target = broken / path.relative_to(cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes()[: 1000] if role == "network" else path.read_bytes())
    with pytest.raises(WeightsError):
        load_published("mmaudio-small-16k", cache=broken, shapes=SHAPES)
    wrong = dataclasses.replace(SHAPES, network=dataclasses.replace(SHAPES.network, hidden_dim=32))
    with pytest.raises(WeightsError, match="mis-shaped"):
        load_published("mmaudio-small-16k", cache=cache, shapes=wrong)
