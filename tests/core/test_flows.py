"""MeanFlow, flow matching and guidance as pure functions."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mfmjt_core.flows import Guidance, combine, fm_loss, meanflow_loss, sample, sample_euler
from mfmjt_core.flows.meanflow import meanflow_target
from mfmjt_core.flows.paths import interpolate, sample_t_r, velocity
from mfmjt_core.network import build_network
from mfmjt_core.network.adapter import AverageVelocity


def _tiny_model(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)  # test-local: the library itself never seeds globally
    net = build_network("tiny_test", time_convention="meanflow").to(dtype)
    for p in net.parameters():
        if p.requires_grad:
            nn.init.normal_(p, std=0.05)  # zero-init modulations would make d/dt vanish
    return net, AverageVelocity(net)


def _tiny_cond(b, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {
        "clip_f": torch.randn(b, 8, 32, generator=g, dtype=dtype),
        "sync_f": torch.randn(b, 24, 24, generator=g, dtype=dtype),
        "text_f": torch.randn(b, 77, 32, generator=g, dtype=dtype),
    }


def test_path_convention():
    x, eps = torch.full((2, 3), 2.0), torch.full((2, 3), -1.0)
    assert torch.equal(interpolate(x, eps, torch.tensor([0.0, 1.0])), torch.tensor([[2.0] * 3, [-1.0] * 3]))
    assert torch.equal(velocity(x, eps), eps - x)


def test_sample_t_r():
    t, r = sample_t_r(1000, generator=torch.Generator().manual_seed(0))
    assert torch.all((0 < r) & (r <= t) & (t < 1))
    assert (r == t).float().mean().item() == pytest.approx(0.75, abs=1e-9)
    # logit-normal(-0.4, 1): the median of the max of two draws sits above sigmoid(-0.4)
    assert t.median().item() > torch.sigmoid(torch.tensor(-0.4)).item()


def test_jvp_matches_float64_finite_differences():
    _, model = _tiny_model(torch.float64)
    b, n = 2, 25
    g = torch.Generator().manual_seed(5)
    z = torch.randn(b, n, 20, generator=g, dtype=torch.float64)
    v = torch.randn(b, n, 20, generator=g, dtype=torch.float64)
    t = torch.tensor([0.9, 0.6], dtype=torch.float64)
    r = torch.tensor([0.2, 0.6], dtype=torch.float64)
    cond = _tiny_cond(b, torch.float64)
    u_fn = lambda z_, r_, t_: model(z_, r_, t_, **cond)

    target = meanflow_target(u_fn, z, r, t, v)
    eps = 1e-6
    with torch.no_grad():
        fd = (u_fn(z + eps * v, r, t + eps) - u_fn(z - eps * v, r, t - eps)) / (2 * eps)
    expected = v - (t - r).view(-1, 1, 1) * fd
    torch.testing.assert_close(target, expected, atol=1e-7, rtol=1e-6)
    assert fd[0].abs().max() > 1e-3  # the derivative is not trivially zero
    # the finite-difference option agrees with the JVP to its own accuracy
    torch.testing.assert_close(meanflow_target(u_fn, z, r, t, v, method="fd", fd_eps=1e-5), expected,
                               atol=1e-6, rtol=1e-5)


def test_target_reproduces_the_exact_average_velocity_of_a_gaussian():
    """Data N(0, s^2): sigma_t^2 = (1-t)^2 s^2 + t^2, v(z, t) = z sigma_t'/sigma_t and
    u(z, r, t) = z (1 - sigma_r/sigma_t)/(t - r). The identity u = v - (t - r) du/dt must hold."""
    s = 0.3
    sigma = lambda t: torch.sqrt((1 - t) ** 2 * s**2 + t**2)
    dsigma = lambda t: (t - (1 - t) * s**2) / sigma(t)

    def u_exact(z, r, t):
        t_, r_ = t.view(-1, 1), r.view(-1, 1)
        return z * (1 - sigma(r_) / sigma(t_)) / (t_ - r_)

    z = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.9, 0.7, 0.5, 0.99], dtype=torch.float64)
    r = torch.tensor([0.1, 0.3, 0.2, 0.0], dtype=torch.float64)
    v = z * (dsigma(t) / sigma(t)).view(-1, 1)
    torch.testing.assert_close(meanflow_target(u_exact, z, r, t, v), u_exact(z, r, t))


def test_meanflow_loss_stats_and_gradients():
    net, model = _tiny_model()
    x = torch.randn(4, 25, 20, generator=torch.Generator().manual_seed(2))
    loss, stats = meanflow_loss(model, x, cond=_tiny_cond(4), generator=torch.Generator().manual_seed(3))
    loss.backward()
    assert math.isfinite(stats["loss"]) and stats["raw_mse"] > 0
    assert stats["frac_r_neq_t"] == pytest.approx(0.25)
    unused = {"empty_clip_feat", "empty_sync_feat"}  # only the unconditional branch uses them
    assert all(p.grad is not None for n, p in net.named_parameters() if p.requires_grad and n not in unused)


def test_loss_takes_the_jvp_only_where_r_differs_from_t():
    """The loss equals the one whose target is taken over the whole batch, with the JVP run on
    the r != t rows alone."""
    net, model = _tiny_model()
    b = 6
    x = torch.randn(b, 25, 20, generator=torch.Generator().manual_seed(2))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0.9, 0.7, 0.5, 0.3, 0.8, 0.2])
    r = torch.tensor([0.9, 0.1, 0.5, 0.0, 0.8, 0.2])  # rows 1 and 3 move
    cond = _tiny_cond(b)
    batch_sizes = []
    net.register_forward_pre_hook(lambda _m, args: batch_sizes.append(args[0].shape[0]))
    loss, _ = meanflow_loss(model, x, cond=cond, noise=noise, t=t, r=r, weight_p=0.0)
    assert batch_sizes == [b, 2]  # the prediction on every row, the target's JVP on two
    z = interpolate(x, noise, t)
    with torch.no_grad():
        full = meanflow_target(lambda z_, r_, t_: model(z_, r_, t_, **cond), z, r, t, velocity(x, noise))
        expected = (model(z, r, t, **cond) - full).pow(2).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)


def test_folded_cfg_leaves_dropped_rows_with_plain_velocity():
    net, model = _tiny_model()
    b = 4
    x = torch.randn(b, 25, 20, generator=torch.Generator().manual_seed(2))
    noise = torch.randn_like(x)
    t = torch.full((b,), 0.5)
    cond = _tiny_cond(b)
    uncond = net.empty_conditions(b, 8, 24)
    from mfmjt_core.flows.meanflow import guided_velocity

    rows = torch.tensor([True, False, True, False])
    z, v = interpolate(x, noise, t), velocity(x, noise)
    v_g = guided_velocity(model, z, t, v, cond, uncond, omega=0.5, kappa=0.3, interval=(0.0, 1.0), guided_rows=rows)
    assert torch.equal(v_g[~rows], v[~rows])
    assert not torch.allclose(v_g[rows], v[rows])
    # outside the interval nothing is guided
    v_out = guided_velocity(model, z, t, v, cond, uncond, omega=0.5, kappa=0.3, interval=(0.6, 1.0), guided_rows=None)
    assert torch.equal(v_out, v)
    loss, _ = meanflow_loss(model, x, cond=cond, noise=noise, omega=0.5, kappa=0.3, uncond=uncond, guided_rows=rows)
    assert torch.isfinite(loss)


def test_loss_finite_under_bf16_autocast():
    net, model = _tiny_model()
    x = torch.randn(3, 25, 20, generator=torch.Generator().manual_seed(4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, stats = meanflow_loss(model, x, cond=_tiny_cond(3), generator=torch.Generator().manual_seed(1))
        fm, _ = fm_loss(model, x, cond=_tiny_cond(3), generator=torch.Generator().manual_seed(1))
    (loss + fm).backward()
    assert math.isfinite(stats["loss"]) and math.isfinite(fm.item())
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


# -- guidance ---------------------------------------------------------------------------------

U_C = torch.tensor([[[3.0, 4.0]], [[1.0, 0.0]]])  # (B=2, N=1, C=2)
U_U = torch.tensor([[[1.0, 0.0]], [[2.0, 0.0]]])


def test_guidance_plain_and_none():
    torch.testing.assert_close(combine(U_C, U_U, 2.0, "plain"), torch.tensor([[[5.0, 8.0]], [[0.0, 0.0]]]))
    assert torch.equal(combine(U_C, U_U, 2.0, "none"), U_C)
    torch.testing.assert_close(combine(U_C, U_U, 1.0, "plain"), U_C)


def test_guidance_zero_star():
    # s*: <(3,4),(1,0)>/1 = 3 ; <(1,0),(2,0)>/4 = 0.5
    # sample 0: 3*(1,0) + 2*((3,4) - (3,0)) = (3, 8); sample 1: (1,0) + 2*((1,0) - (1,0)) = (1, 0)
    torch.testing.assert_close(combine(U_C, U_U, 2.0, "zero_star"), torch.tensor([[[3.0, 8.0]], [[1.0, 0.0]]]))


def test_guidance_std_rescale():
    guided = torch.tensor([[[5.0, 8.0]], [[0.0, 0.0]]])
    std_c = torch.tensor([U_C[0].std().item(), U_C[1].std().item()])
    std_g = torch.tensor([guided[0].std().item(), 0.0])
    ratio = std_c / (std_g + 1e-8)
    expected = 0.7 * guided * ratio.view(-1, 1, 1) + 0.3 * guided
    torch.testing.assert_close(combine(U_C, U_U, 2.0, "std", phi=0.7), expected)


def test_guidance_batches_both_branches_in_one_forward():
    calls = []

    def model(z, r, t, *, c):
        calls.append(z.shape[0])
        return z * c

    cond = {"c": torch.full((2, 1, 1), 2.0)}
    guidance = Guidance(3.0, mode="plain", uncond={"c": torch.ones(1, 1, 1)})
    out = sample(model, torch.ones(2, 1, 1), steps=1, cond=cond, guidance=guidance)
    assert calls == [4]
    # u_c = 2, u_u = 1, plain w=3 -> 4; one step: x = 1 - 4
    torch.testing.assert_close(out, torch.full((2, 1, 1), -3.0))
    with pytest.raises(ValueError):
        Guidance(2.0, mode="zero_star")  # no unconditional inputs
    with pytest.raises(ValueError):
        Guidance(2.0, mode="bogus", uncond={})


def test_samplers_follow_the_grid():
    seen = []

    def model(z, r, t):
        seen.append((round(r[0].item(), 4), round(t[0].item(), 4)))
        return torch.zeros_like(z)

    sample(model, torch.zeros(1, 1), steps=4)
    assert seen == [(0.75, 1.0), (0.5, 0.75), (0.25, 0.5), (0.0, 0.25)]
    seen.clear()
    sample_euler(model, torch.zeros(1, 1), steps=2)
    assert seen == [(1.0, 1.0), (0.5, 0.5)]


# -- a 2-D problem where one step of MeanFlow beats one step of flow matching ------------------

class ToyField(nn.Module):
    def __init__(self, width: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(4, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
            nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2),
        )

    def forward(self, z, r, t):
        return self.net(torch.cat([z, t[:, None], (t - r)[:, None]], dim=1))


MODES = torch.tensor([[math.cos(a), math.sin(a)] for a in torch.arange(4) * math.pi / 2]) * 2.0


def _toy_data(n, g):
    return MODES[torch.randint(0, 4, (n,), generator=g)] + 0.05 * torch.randn(n, 2, generator=g)


def _train(objective, steps, seed):
    torch.manual_seed(seed)
    model = ToyField()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = _toy_data(256, g)
        if objective == "meanflow":
            loss, _ = meanflow_loss(model, x, generator=g, mu=-0.4, sigma=1.0)
        else:
            loss, _ = fm_loss(model, x, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def _distance_to_modes(x):
    return torch.cdist(x, MODES).min(dim=1).values.mean().item()


@pytest.mark.slow
def test_one_step_meanflow_beats_one_step_flow_matching():
    steps = 1200
    mf, fm = _train("meanflow", steps, 0), _train("fm", steps, 0)
    noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        d_mf = _distance_to_modes(sample(mf, noise, steps=1))
        d_fm = _distance_to_modes(sample_euler(fm, noise, steps=1))
        d_fm25 = _distance_to_modes(sample_euler(fm, noise, steps=25))
    print(f"mean distance to nearest mode: MF 1-step {d_mf:.3f}, FM 1-step {d_fm:.3f}, FM 25-step {d_fm25:.3f}")
    assert d_fm > 1.0  # one FM step lands near the blurred conditional mean, between modes
    assert d_mf < 0.35 * d_fm
    assert d_mf < 0.5
