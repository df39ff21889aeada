"""BigVGAN: v1 and v2 goldens, published names (16 kHz and 44.1 kHz manifests), stored forms.

Tolerances come from the measured max abs errors (scripts/golden_errors.py, table in
docs/architecture.md "Goldens"): v1 1.5e-8, v2 6.6e-7, in either stored weight-norm form.
"""

from __future__ import annotations

import math

import pytest
import torch

from mfmjt_core.codec.alias_free import kaiser_sinc_lowpass
from mfmjt_core.codec.bigvgan import BIGVGAN_16K, BIGVGAN_V2_44K_512X, BigVGANConfig, BigVGANGenerator
from mfmjt_core.codec.mmaudio_codec import MMAudioCodec
from mfmjt_core.codec.state_dicts import fold_weight_norm
from mfmjt_core.codec.vae import VAEConfig
from mfmjt_core.errors import WeightsError
from mfmjt_core.weights.loading import load_checkpoint

PARAM_G = ".parametrizations.weight.original0"
PARAM_V = ".parametrizations.weight.original1"
V1_ATOL = 5e-8  # measured 1.5e-8
V2_ATOL = 2e-6  # measured 6.6e-7


def to_legacy_weight_norm(state_dict: dict) -> dict:
    """parametrizations form -> weight_g / weight_v form (what torch.nn.utils.weight_norm saves)."""
    return {
        k.replace(PARAM_G, ".weight_g").replace(PARAM_V, ".weight_v"): v
        for k, v in state_dict.items()
    }


def to_weight_norm(plain: dict, rescale: float = 3.0) -> dict:
    """plain `weight` form -> weight_g / weight_v, with v deliberately not unit-norm."""
    out = {}
    for key, value in plain.items():
        if key.endswith(".weight") and value.ndim == 3:
            prefix = key[: -len(".weight")]
            out[prefix + ".weight_g"] = torch.linalg.vector_norm(value, dim=(1, 2), keepdim=True)
            out[prefix + ".weight_v"] = value * rescale
        else:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def golden(load_golden):
    return load_golden("bigvgan_v1_tiny.pt")


def run(model: BigVGANGenerator, mel: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(mel)


def test_matches_golden_in_every_stored_form(golden):
    config = BigVGANConfig.from_dict(golden["config"])
    stored = golden["generator_state_dict_as_saved"]
    expected = golden["output_waveform"]
    # As in best_netG.pt: the generator under the key "generator", parametrizations naming.
    model = BigVGANGenerator.from_state_dict({"generator": stored}, config)
    out = run(model, golden["input_mel"])
    assert out.shape == (1, 1, golden["input_mel"].shape[-1] * 256)
    torch.testing.assert_close(out, expected, rtol=0, atol=V1_ATOL)
    # The legacy weight_g / weight_v naming and the plain (already folded) form load the same.
    legacy = BigVGANGenerator.from_state_dict(to_legacy_weight_norm(stored), config)
    plain = BigVGANGenerator.from_state_dict(model.state_dict(), config)
    torch.testing.assert_close(run(legacy, golden["input_mel"]), expected, rtol=0, atol=V1_ATOL)
    torch.testing.assert_close(run(plain, golden["input_mel"]), expected, rtol=0, atol=V1_ATOL)
    assert not any("parametrizations" in k or k.endswith("_g") for k in model.state_dict())


def test_computed_filters_equal_stored_filters(golden):
    stored = golden["generator_state_dict_as_saved"]
    fresh = BigVGANGenerator(BigVGANConfig.from_dict(golden["config"])).state_dict()
    for key in (
        "resblocks.0.activations.0.upsample.filter",
        "activation_post.downsample.lowpass.filter",
    ):
        torch.testing.assert_close(fresh[key], stored[key], rtol=0, atol=1e-7)
    taps = kaiser_sinc_lowpass(0.25, 0.3, 12)[0, 0]
    assert torch.allclose(taps.sum(), torch.tensor(1.0)) and torch.equal(taps, taps.flip(0))


@pytest.mark.parametrize("legacy", [False, True])
def test_16k_names_and_shapes_match_manifest(load_manifest, legacy):
    manifest = load_manifest("bigvgan_16k")
    assert manifest["num_tensors"] == 784
    assert _load_manifest_shapes(manifest, BIGVGAN_16K, legacy).config.hop == 256


def _load_manifest_shapes(manifest: dict, config: BigVGANConfig, legacy: bool) -> BigVGANGenerator:
    """The manifest's names and shapes as a stored state dict (meta tensors; `legacy`:
    weight_g/weight_v) load strictly into our generator, and every stored entry is used."""
    shapes = {k: tuple(v) for k, v in manifest["state_dict"].items()}
    assert len(shapes) == manifest["num_tensors"]
    stored = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
    if legacy:
        stored = to_legacy_weight_norm(stored)
    own = {k: tuple(v.shape) for k, v in BigVGANGenerator(config, device="meta").state_dict().items()}
    assert {k: tuple(v.shape) for k, v in fold_weight_norm(stored).items()} == own
    # 2 weight-norm tensors per conv become 1 weight
    assert len(own) == len(shapes) - sum(k.endswith(PARAM_G) for k in shapes)
    return BigVGANGenerator.from_state_dict({"generator": stored}, config)


def test_incomplete_weight_norm_pair_is_rejected(golden):
    stored = dict(golden["generator_state_dict_as_saved"])
    del stored["conv_pre" + PARAM_V]
    with pytest.raises(WeightsError, match="conv_pre"):
        BigVGANGenerator.from_state_dict(stored, BigVGANConfig.from_dict(golden["config"]))
    stored = dict(golden["generator_state_dict_as_saved"])
    stored["conv_pre" + PARAM_G] = stored["conv_pre" + PARAM_G].reshape(-1)
    with pytest.raises(WeightsError, match="shape"):
        BigVGANGenerator.from_state_dict(stored, BigVGANConfig.from_dict(golden["config"]))


@pytest.mark.parametrize("form", ["weight_g/weight_v", "parametrizations"])
def test_v2_golden_through_the_44k_codec_from_a_saved_file(tmp_path, load_golden, form):
    """The 44.1 kHz vocoder as the codec loads it: `bigvgan_generator.pt` (state under
    "generator", NVIDIA's legacy weight_g / weight_v names or the parametrization names) read
    by load_checkpoint, config from the golden's config dict (as from the hub's config.json)."""
    golden = load_golden("bigvgan_v2_tiny.pt")
    vae_golden = load_golden("vae_tiny_128.pt")
    stored = golden["generator_state_dict_as_saved"]
    assert all("weight_g" not in k for k in stored)  # the golden stores parametrization names
    if form == "weight_g/weight_v":
        stored = to_legacy_weight_norm(stored)
    torch.save({"generator": stored}, tmp_path / "bigvgan_generator.pt")
    codec = MMAudioCodec.from_state_dicts(
        vae_golden["state_dict_as_saved"],
        load_checkpoint(tmp_path / "bigvgan_generator.pt", key="generator"),
        "44k",
        vae_config=VAEConfig(**vae_golden["config"]),
        vocoder_config=golden["config"],
    )
    voc = codec.vocoder.config
    assert (voc.activation, voc.snake_logscale, voc.use_tanh_at_final, voc.use_bias_at_final) == (
        "snakebeta", True, False, False)
    assert "conv_post.bias" not in codec.vocoder.state_dict()
    with torch.inference_mode():
        out = codec.vocoder(golden["input_mel"])
    expected = golden["output_waveform"]
    assert out.shape == expected.shape == (1, 1, 12 * 512)
    assert expected.abs().max() == 1.0  # some samples hit the clamp: the clamp is exercised
    torch.testing.assert_close(out, expected, rtol=0, atol=V2_ATOL)


@pytest.mark.parametrize("legacy", [False, True])
def test_v2_44k_names_shapes_and_config_match_manifest(load_manifest, legacy):
    manifest = load_manifest("bigvgan_v2_44k")
    assert BigVGANConfig.from_dict(manifest["config"]) == BIGVGAN_V2_44K_512X
    assert manifest["num_tensors"] == 783
    assert sum(math.prod(v) for v in manifest["state_dict"].values()) == manifest["num_float_elements"]
    assert _load_manifest_shapes(manifest, BIGVGAN_V2_44K_512X, legacy).config.hop == 512


def v2_config_dict() -> dict:
    """A BigVGAN-v2 style config.json, tiny channels, with training keys the builder ignores."""
    return {
        "resblock": "1",
        "num_gpus": 0,
        "batch_size": 4,
        "learning_rate": 0.0001,
        "upsample_rates": [8, 4, 2, 2, 2, 2],
        "upsample_kernel_sizes": [16, 8, 4, 4, 4, 4],
        "upsample_initial_channel": 64,
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "use_tanh_at_final": False,
        "use_bias_at_final": False,
        "activation": "snakebeta",
        "snake_logscale": True,
        "use_cqtd_instead_of_mrd": True,
        "num_mels": 128,
        "n_fft": 2048,
        "hop_size": 512,
        "sampling_rate": 44100,
        "fmax": None,
        "dist_config": {"dist_backend": "nccl"},
    }


def test_v2_from_config_dict_round_trips_through_a_saved_checkpoint(tmp_path):
    config = BigVGANConfig.from_dict(v2_config_dict())
    assert config.hop == 512 and not config.use_tanh_at_final and config.sampling_rate == 44100
    model = BigVGANGenerator(config).init_random_(torch.Generator().manual_seed(0), std=0.05)
    assert "conv_post.bias" not in model.state_dict()
    # v2 checkpoints are written by torch.nn.utils.weight_norm: weight_g / weight_v.
    torch.save({"generator": to_weight_norm(model.state_dict())}, tmp_path / "bigvgan_generator.pt")
    loaded = BigVGANGenerator.from_state_dict(
        torch.load(tmp_path / "bigvgan_generator.pt", weights_only=True), config
    )
    mel = torch.randn(2, 128, 6, generator=torch.Generator().manual_seed(1))
    expected = run(model, mel)
    assert expected.shape == (2, 1, 6 * 512)
    torch.testing.assert_close(run(loaded, mel), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("use_tanh", [False, True])
def test_final_squash_is_clamp_or_tanh(use_tanh):
    config = BigVGANConfig.from_dict(dict(v2_config_dict(), use_tanh_at_final=use_tanh))
    model = BigVGANGenerator(config).init_random_(torch.Generator().manual_seed(0), std=0.05)
    captured = {}
    model.conv_post.register_forward_hook(lambda mod, args, out: captured.update(pre=out))
    with torch.no_grad():
        model.conv_post.weight.mul_(1e3)  # drive the pre-activation beyond [-1, 1]
        out = model(torch.randn(1, 128, 4, generator=torch.Generator().manual_seed(2)))
    pre = captured["pre"]
    assert pre.abs().max() > 1.5
    assert torch.equal(out, torch.tanh(pre) if use_tanh else pre.clamp(-1.0, 1.0))


def test_config_validation():
    with pytest.raises(ValueError):
        BigVGANConfig.from_dict(dict(v2_config_dict(), activation="relu"))
    with pytest.raises(WeightsError):
        BigVGANConfig.from_dict({"num_mels": 80})
