"""Guidance as an input of the network (issue 18, item 1): the w embedding, the per-row folded
target, the draws of omega and the loss's use of w."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from mfmjt_core.flows import meanflow_loss
from mfmjt_core.flows.meanflow import guided_velocity
from mfmjt_core.flows.paths import interpolate, velocity
from mfmjt_core.network import OWN_PREFIXES, NetworkConfig, build_network
from mfmjt_core.network.adapter import AverageVelocity
from mfmjt_core.training.draws import draw
from mfmjt_core.training.task_loss import guidance_scales, objective_loss
from mfmjt_core.training.train_config import ObjectiveConfig, TrainConfig, apply_overrides


def _cond(b, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {"clip_f": torch.randn(b, 8, 32, generator=g), "sync_f": torch.randn(b, 24, 24, generator=g),
            "text_f": torch.randn(b, 77, 32, generator=g)}


def _randomised(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.normal_(0.0, 0.05, generator=g)  # zero-init modulations would hide every input
    return net


# -- network ----------------------------------------------------------------------------------

def test_old_configs_load_without_guidance_input_and_only_w_embed_is_added():
    plain = build_network("tiny_test", device="meta")
    data = plain.config.to_dict()
    assert data["guidance_input"] is False
    del data["guidance_input"]  # a model file written before the field existed
    assert NetworkConfig.from_dict(data) == plain.config
    assert not any(k.startswith("w_embed.") for k in plain.state_dict())
    guided = build_network("tiny_test", device="meta", guidance_input=True)
    extra = sorted(set(guided.state_dict()) - set(plain.state_dict()))
    assert extra == ["w_embed.mlp.0.bias", "w_embed.mlp.0.weight", "w_embed.mlp.2.bias", "w_embed.mlp.2.weight"]
    assert all(k.startswith(OWN_PREFIXES) for k in extra)  # published checkpoints lack them
    assert NetworkConfig.from_dict(guided.config.to_dict()) == guided.config


def test_w_embed_starts_at_zero_so_a_model_without_it_is_unchanged_at_every_w():
    old = _randomised(build_network("tiny_test", time_convention="meanflow"))
    new = build_network("tiny_test", time_convention="meanflow", guidance_input=True,
                        generator=torch.Generator().manual_seed(3))
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("w_embed.") for k in missing)
    z, t, c = torch.randn(3, 25, 20, generator=torch.Generator().manual_seed(2)), torch.rand(3), _cond(3)
    before = old(z, t, **c)
    for w in (None, torch.ones(3), torch.tensor([1.0, 2.0, 3.0])):
        torch.testing.assert_close(new(z, t, **c, w=w), before, rtol=0, atol=0)


def test_w_changes_the_output_once_trained_and_none_means_one():
    net = _randomised(build_network("tiny_test", time_convention="meanflow", guidance_input=True))
    u = AverageVelocity(net)
    z, c = torch.randn(2, 25, 20, generator=torch.Generator().manual_seed(2)), _cond(2)
    r, t = torch.zeros(2), torch.ones(2)
    torch.testing.assert_close(u(z, r, t, **c), u(z, r, t, **c, w=torch.ones(2)), rtol=0, atol=0)
    assert not torch.allclose(u(z, r, t, **c, w=torch.full((2,), 3.0)), u(z, r, t, **c))
    # each row reads its own scale
    mixed = u(z, r, t, **c, w=torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(mixed[1], u(z, r, t, **c, w=torch.full((2,), 3.0))[1])


# -- the folded target with a scale per row ---------------------------------------------------

def test_guided_velocity_tensor_omega_equals_float_omega():
    net = _randomised(build_network("tiny_test", time_convention="meanflow"))
    model, b = AverageVelocity(net), 4
    g = torch.Generator().manual_seed(5)
    x, noise, t = torch.randn(b, 25, 20, generator=g), torch.randn(b, 25, 20, generator=g), torch.rand(b, generator=g)
    z, v = interpolate(x, noise, t), velocity(x, noise)
    cond, uncond = _cond(b), net.empty_conditions(b, 8, 24)
    rows = torch.tensor([True, True, False, True])
    kw = dict(kappa=0.2, interval=(0.0, 1.0), guided_rows=rows)
    as_float = guided_velocity(model, z, t, v, cond, uncond, omega=2.5, **kw)
    as_tensor = guided_velocity(model, z, t, v, cond, uncond, omega=torch.full((b,), 2.5), **kw)
    torch.testing.assert_close(as_tensor, as_float, rtol=0, atol=1e-6)
    # per-row scales: each row equals the float path at its own scale
    per_row = guided_velocity(model, z, t, v, cond, uncond, omega=torch.tensor([1.5, 2.5, 9.0, 3.0]), **kw)
    for i, w in enumerate((1.5, 2.5, 9.0, 3.0)):
        one = guided_velocity(model, z, t, v, cond, uncond, omega=w, **kw)
        torch.testing.assert_close(per_row[i], one[i], rtol=0, atol=1e-6)
    torch.testing.assert_close(per_row[2], v[2])  # not a guided row


class _ScaledModel(nn.Module):
    """u(z, r, t | w) = w t z + r: a closed-form total derivative du/dt = w (z + t v)."""

    def forward(self, z, r, t, *, c, w=None):
        w = torch.ones_like(t) if w is None else w
        return (w * t).view(-1, 1) * z + r.view(-1, 1) + 0 * c


def test_loss_gives_w_to_the_prediction_and_holds_it_constant_in_the_jvp():
    g = torch.Generator().manual_seed(0)
    b = 4
    x, noise = torch.randn(b, 3, generator=g), torch.randn(b, 3, generator=g)
    t, r = torch.tensor([0.9, 0.8, 0.7, 0.5]), torch.tensor([0.2, 0.8, 0.1, 0.5])  # rows 1, 3: r = t
    w = torch.tensor([1.0, 2.0, 3.0, 1.5])
    _, stats = meanflow_loss(_ScaledModel(), x, cond={"c": torch.zeros(b, 3), "w": w}, noise=noise, t=t, r=r,
                             weight_p=0.0)
    z, v = interpolate(x, noise, t), velocity(x, noise)
    pred = (w * t).view(-1, 1) * z + r.view(-1, 1)
    target = v - (t - r).view(-1, 1) * w.view(-1, 1) * (z + t.view(-1, 1) * v)
    assert stats["raw_mse"] == pytest.approx((pred - target).pow(2).mean().item(), rel=1e-5)


# -- training: draws and the objective --------------------------------------------------------

def test_omega_range_is_validated_and_overridable():
    ok = ObjectiveConfig(kind="meanflow", omega_range=(1.0, 3.0))
    for bad in (dict(kind="fm"), dict(omega=2.0), dict(kappa=0.5), dict(omega_range=(0.5, 2.0)),
                dict(omega_range=(3.0, 2.0))):
        with pytest.raises(ValueError):
            dataclasses.replace(ok, **bad)
    cfg = apply_overrides(TrainConfig(), ["objective.omega_range=1,4"])
    assert cfg.objective.omega_range == (1.0, 4.0)
    assert TrainConfig.from_dict(dataclasses.asdict(cfg)) == cfg  # a run's config.json reads back


def test_omega_is_drawn_per_row_in_the_range_without_moving_the_other_draws():
    kw = dict(step=7, seed=3, shape=(2,), null_video=0.3, null_text=0.3)
    plain = draw(range(64), objective=ObjectiveConfig(), **kw)
    ranged = draw(range(64), objective=ObjectiveConfig(omega_range=(1.0, 3.0)), **kw)
    for name in ("noise", "t", "r", "drop_video", "drop_text"):
        assert torch.equal(getattr(plain, name), getattr(ranged, name)), name  # old runs resume exactly
    assert torch.equal(plain.omega, torch.ones(64))
    assert 1.0 <= ranged.omega.min() < 1.5 and 2.5 < ranged.omega.max() <= 3.0
    again = draw(range(32, 64), objective=ObjectiveConfig(omega_range=(1.0, 3.0)), **kw)
    assert torch.equal(again.omega, ranged.omega[32:])  # per row, whatever the split


def test_unconditioned_rows_get_w_one_and_a_network_without_the_input_is_an_error():
    objective = ObjectiveConfig(omega_range=(1.0, 3.0))
    draws = draw(range(4), step=0, seed=0, shape=(25, 20), objective=objective, null_video=0.0, null_text=0.0)
    conditioned = torch.tensor([True, False, True, False])
    net = build_network("tiny_test", time_convention="meanflow", guidance_input=True)
    w = guidance_scales(objective, net, draws, conditioned)
    assert torch.equal(w[conditioned], draws.omega[conditioned]) and torch.equal(w[~conditioned], torch.ones(2))
    assert guidance_scales(ObjectiveConfig(), net, draws, conditioned) is None
    plain = build_network("tiny_test", time_convention="meanflow")
    with pytest.raises(ValueError, match="guidance_input"):
        objective_loss(objective, AverageVelocity(plain), AverageVelocity(plain), plain, torch.randn(4, 25, 20),
                       _cond(4), draws, conditioned)


def test_the_objective_guides_at_each_rows_omega():
    """The loss under omega_range equals meanflow_loss given the same per-row w and scales."""
    from mfmjt_core.training.task_loss import folded_guidance

    net = _randomised(build_network("tiny_test", time_convention="meanflow", guidance_input=True))
    u = AverageVelocity(net)
    objective = ObjectiveConfig(equal_fraction=0.5, omega_range=(1.0, 3.0))
    draws = draw(range(4), step=1, seed=2, shape=(25, 20), objective=objective, null_video=0.0, null_text=0.0)
    conditioned = torch.tensor([True, True, False, True])
    x, cond = torch.randn(4, 25, 20, generator=torch.Generator().manual_seed(9)), _cond(4)
    loss, _ = objective_loss(objective, u, u, net, x, cond, draws, conditioned)
    w = torch.where(conditioned, draws.omega, torch.ones(4))
    wc = {**cond, "w": w}
    expected, _ = meanflow_loss(u, x, cond=wc, noise=draws.noise, t=draws.t, r=draws.r,
                                **folded_guidance(objective, net, wc, conditioned, w))
    torch.testing.assert_close(loss, expected, rtol=0, atol=0)
    # and it is not the unguided loss, nor the loss at one fixed scale for every row
    plain, _ = objective_loss(ObjectiveConfig(equal_fraction=0.5), u, u, net, x, cond, draws, conditioned)
    fixed = {**cond, "w": torch.where(conditioned, torch.full((4,), 2.0), torch.ones(4))}
    at_two, _ = meanflow_loss(u, x, cond=fixed, noise=draws.noise, t=draws.t, r=draws.r,
                              **folded_guidance(objective, net, fixed, conditioned, fixed["w"]))
    assert not torch.isclose(loss, plain) and not torch.isclose(loss, at_two)
