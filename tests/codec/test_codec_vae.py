"""Mel VAE: golden outputs (tiny, stored form), published names and shapes (full size), loading."""

from __future__ import annotations

import pytest
import torch

from mfmjt_core.codec.vae import VAE_16K, VAE_44K, MelVAE, VAEConfig
from mfmjt_core.errors import WeightsError

# Measured max abs errors (scripts/golden_errors.py): latent mean 2.7e-6, std 3.6e-6, decoded mel
# 6.2e-6, the same with weight norm folded or applied on the fly.
ATOL = 1e-5


@pytest.mark.parametrize("name", ["vae_tiny_80.pt", "vae_tiny_128.pt"])
@pytest.mark.parametrize("folded", [True, False])
def test_matches_golden(load_golden, name, folded):
    golden = load_golden(name)
    config = VAEConfig(**golden["config"])
    if folded:
        vae = MelVAE.from_state_dict(golden["state_dict_as_saved"], config)
    else:  # weight normalisation applied on the fly, as during training
        vae = MelVAE(config)
        vae.load_state_dict(golden["state_dict_as_saved"], strict=True)
    with torch.no_grad():
        mean, std = vae.encode(golden["input_mel"])
        decoded = vae.decode(golden["latent_mean"])
    torch.testing.assert_close(mean, golden["latent_mean"], rtol=0, atol=ATOL)
    torch.testing.assert_close(std, golden["latent_std"], rtol=0, atol=ATOL)
    torch.testing.assert_close(decoded, golden["decoded_mel"], rtol=0, atol=ATOL)


def test_loading_leaves_the_callers_state_dict_untouched(load_golden):
    golden = load_golden("vae_tiny_80.pt")
    stored = golden["state_dict_as_saved"]
    before = {k: v.clone() for k, v in stored.items()}
    vae = MelVAE.from_state_dict(stored, VAEConfig(**golden["config"]))
    vae.fold_weight_norm()  # a second fold is a no-op
    assert all(torch.equal(before[k], stored[k]) for k in stored)
    with torch.no_grad():
        torch.testing.assert_close(
            vae.decode(golden["latent_mean"]), golden["decoded_mel"], rtol=0, atol=ATOL
        )


@pytest.mark.parametrize("manifest, config", [("vae_16k", VAE_16K), ("vae_44k", VAE_44K)])
def test_full_size_names_and_shapes_match_manifest(load_manifest, manifest, config):
    expected = {k: list(v) for k, v in load_manifest(manifest)["state_dict"].items()}
    actual = {k: list(v.shape) for k, v in MelVAE(config, device="meta").state_dict().items()}
    assert actual == expected


def test_full_size_loads_a_manifest_shaped_state_dict(load_manifest):
    stored = {
        k: torch.empty(v, device="meta") for k, v in load_manifest("vae_44k")["state_dict"].items()
    }
    vae = MelVAE.from_state_dict(stored, VAE_44K)
    assert vae.config.embed_dim == 40 and not vae.training


def test_strict_loading_errors_are_typed(load_golden):
    golden = load_golden("vae_tiny_80.pt")
    config = VAEConfig(**golden["config"])
    missing = dict(golden["state_dict_as_saved"])
    del missing["decoder.conv_out.weight"]
    with pytest.raises(WeightsError, match="1 missing"):
        MelVAE.from_state_dict(missing, config)
    extra = dict(golden["state_dict_as_saved"], **{"encoder.bogus": torch.zeros(1)})
    with pytest.raises(WeightsError, match="1 unexpected"):
        MelVAE.from_state_dict(extra, config)
    with pytest.raises(WeightsError, match="mis-shaped"):
        MelVAE.from_state_dict(golden["state_dict_as_saved"], VAEConfig(80, 20, 32))


def test_time_layout():
    vae = (
        MelVAE(VAEConfig(80, 20, 8))
        .init_random_(torch.Generator().manual_seed(0))
        .fold_weight_norm()
    )
    with torch.no_grad():
        mean, std = vae.encode(torch.randn(2, 80, 40, generator=torch.Generator().manual_seed(1)))
        assert mean.shape == std.shape == (2, 20, 20) and bool((std > 0).all())
        assert vae.decode(mean).shape == (2, 80, 40)
