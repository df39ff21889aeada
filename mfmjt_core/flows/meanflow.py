"""MeanFlow (Geng et al., arXiv 2505.13447) in the project's convention.

The model predicts the average velocity u(z_t, r, t) over [r, t]. The MeanFlow identity
u = v - (t - r) du/dt, with the total derivative du/dt = v . d_z u + d_t u, gives a regression
target from one forward-mode JVP with tangents (v, 0, 1) for (z, r, t). The target is held fixed
(stop-gradient), so the JVP runs without autograd: one extra forward, no double backward
(py-meanflow's "alternative to compilation"). One-step sampling is x = eps - u(eps, 0, 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from mfmjt_core.flows.flow_matching import integrate
from mfmjt_core.flows.guidance import Guidance
from mfmjt_core.flows.paths import draw_noise, expand_like, interpolate, sample_t_r, velocity


@contextlib.contextmanager
def _replay_rng(device: torch.device, cpu_state: torch.Tensor, cuda_state: torch.Tensor | None):
    """Run a block with the RNG as it was before the forward, then leave the global streams where
    the forward left them, so the target's JVP never shifts later draws. (The networks here have
    no dropout; one with dropout would draw its own masks for the JVP's subset of rows.)"""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.set_rng_state(cpu_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state, device)
        yield


def _jvp_context(device: torch.device, fp32: bool):
    stack = contextlib.ExitStack()
    # Flash / memory-efficient attention kernels have no forward-mode AD (pytorch #128971).
    stack.enter_context(sdpa_kernel(SDPBackend.MATH))
    if fp32:
        stack.enter_context(torch.autocast(device_type=device.type, enabled=False))
    return stack


def guided_velocity(
    model: Callable[..., torch.Tensor],
    z: torch.Tensor,
    t: torch.Tensor,
    v: torch.Tensor,
    cond: Mapping[str, torch.Tensor],
    uncond: Mapping[str, torch.Tensor],
    *,
    omega: float | torch.Tensor,
    kappa: float,
    interval: tuple[float, float],
    guided_rows: torch.Tensor | None,
) -> torch.Tensor:
    """Training-time CFG folded into the target (method.md 2.5), without gradient:

    v~ = omega v + kappa u(z, t, t | c) + (1 - omega - kappa) u(z, t, t | empty), effective
    scale omega / (1 - kappa); `omega` is one float or a (B,) tensor, one scale per row. Rows
    outside `interval` or not in `guided_rows` keep plain v; callers must leave rows whose
    conditions they dropped out of `guided_rows` (cloning the conditions before dropping:
    MeanAudio aliased them and pulled dropped rows toward u_uncond). A `w` in `cond` (a network
    with guidance as an input) is the conditional branch's scale; the empty branch gets w = 1
    unless `uncond` names one.
    """
    with torch.no_grad():
        if "w" in cond and "w" not in uncond:
            uncond = {**uncond, "w": torch.ones_like(cond["w"])}
        both = {k: torch.cat([cond[k], uncond[k].expand_as(cond[k])]) for k in cond}
        u_c, u_u = model(torch.cat([z, z]), torch.cat([t, t]), torch.cat([t, t]), **both).chunk(2)
        if isinstance(omega, torch.Tensor):
            omega = expand_like(omega.to(v.dtype), v)
        target = omega * v + kappa * u_c + (1 - omega - kappa) * u_u
        rows = (t >= interval[0]) & (t <= interval[1])
        if guided_rows is not None:
            rows = rows & guided_rows
        return torch.where(expand_like(rows, v), target, v)


def meanflow_target(
    u_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    r: torch.Tensor,
    t: torch.Tensor,
    v: torch.Tensor,
    *,
    fp32: bool = True,
    method: str = "jvp",
    fd_eps: float = 1e-3,
) -> torch.Tensor:
    """sg(v - (t - r) du/dt), du/dt from one JVP of u_fn(z, r, t) with tangents (v, 0, 1).

    Runs without autograd; with `fp32` the JVP runs in float32 outside autocast (bf16 JVPs are
    a known source of NaNs, method.md 2.8). `method="fd"` replaces forward-mode AD by a central
    difference along (v, 0, 1) (two plain forwards; relative error ~1e-4 in fp32), for backends
    where forward AD is slow or missing.
    """
    if method not in ("jvp", "fd"):
        raise ValueError(f"unknown derivative method {method!r}")
    with torch.no_grad(), _jvp_context(z.device, fp32):
        dtype = torch.float32 if fp32 and z.dtype in (torch.float16, torch.bfloat16) else z.dtype
        primals = (z.to(dtype), r.to(dtype), t.to(dtype))
        vz = v.to(dtype)
        if method == "jvp":
            tangents = (vz, torch.zeros_like(primals[1]), torch.ones_like(primals[2]))
            _, dudt = torch.func.jvp(u_fn, primals, tangents)
        else:
            zz, rr, tt = primals
            plus = u_fn(zz + fd_eps * vz, rr, tt + fd_eps)
            dudt = (plus - u_fn(zz - fd_eps * vz, rr, tt - fd_eps)) / (2 * fd_eps)
    h = expand_like((t - r).clamp(0.0, 1.0), v).to(dudt.dtype)
    return (v.to(dudt.dtype) - h * dudt).detach()


def meanflow_loss(
    model: Callable[..., torch.Tensor],
    x: torch.Tensor,
    *,
    cond: Mapping[str, torch.Tensor] | None = None,
    noise: torch.Tensor | None = None,
    t: torch.Tensor | None = None,
    r: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    mu: float = -0.4,
    sigma: float = 1.0,
    equal_fraction: float = 0.75,
    weight_p: float = 1.0,
    weight_c: float = 1e-3,
    omega: float | torch.Tensor | None = None,
    kappa: float = 0.0,
    interval: tuple[float, float] = (0.0, 1.0),
    uncond: Mapping[str, torch.Tensor] | None = None,
    guided_rows: torch.Tensor | None = None,
    jvp_fp32: bool = True,
    jvp_model: Callable[..., torch.Tensor] | None = None,
    derivative: str = "jvp",
) -> tuple[torch.Tensor, dict[str, float]]:
    """MeanFlow loss for a batch of data x (B, ...) and its conditions.

    (t, r) come from `sample_t_r` unless given; `omega` (a float, or (B,) per-row scales)
    switches on CFG folded into the target (needs `uncond`). A `w` in `cond` reaches the network
    in the prediction and, held constant, inside the target's JVP. Adaptive weighting:
    per-sample mean squared error L, loss = mean(sg(a) L) with a = 1 / (L + c)^p. Returns the
    loss and stats: `raw_mse` (unweighted) and `frac_r_neq_t`.

    `jvp_model` (default: `model`) computes the target. Under DDP pass the wrapped module as
    `model` (its backward all-reduces the gradients) and the unwrapped one as `jvp_model`:
    `torch.func.jvp` cannot trace a DDP wrapper, and the target needs no gradient anyway.
    """
    cond = dict(cond or {})
    noise = draw_noise(x, generator) if noise is None else noise
    if t is None or r is None:
        t, r = sample_t_r(
            x.shape[0], mu=mu, sigma=sigma, equal_fraction=equal_fraction, generator=generator, device=x.device
        )
    z = interpolate(x, noise, t)
    v = velocity(x, noise)
    if omega is not None:
        if uncond is None:
            raise ValueError("folded CFG (omega) needs `uncond` conditions")
        v = guided_velocity(
            model if jvp_model is None else jvp_model, z, t, v, cond, uncond,
            omega=omega, kappa=kappa, interval=interval, guided_rows=guided_rows,
        )

    target_model = model if jvp_model is None else jvp_model
    # Rows with r = t have the target v itself ((t - r) du/dt = 0): the JVP, the costliest part
    # of a step, runs only on the other rows (a quarter of them with the default 75% r = t).
    moving = torch.nonzero(r != t).squeeze(1)
    moving_cond = {k: c[moving] for k, c in cond.items()}

    def u_target(z_: torch.Tensor, r_: torch.Tensor, t_: torch.Tensor) -> torch.Tensor:
        return target_model(z_, r_, t_, **moving_cond)

    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state(x.device) if x.device.type == "cuda" else None
    u_pred = model(z, r, t, **cond)
    target = v.detach().float().clone()
    if moving.numel():
        with _replay_rng(x.device, cpu_state, cuda_state):
            target[moving] = meanflow_target(u_target, z[moving], r[moving], t[moving], v[moving],
                                             fp32=jvp_fp32, method=derivative).float()

    err = (u_pred.float() - target).pow(2).flatten(1).mean(1)  # (B,)
    weight = 1.0 / (err.detach() + weight_c).pow(weight_p)
    loss = (weight * err).mean()
    stats = {
        "loss": loss.item(),
        "raw_mse": err.mean().item(),
        "frac_r_neq_t": (r != t).float().mean().item(),
    }
    return loss, stats


def sample(
    model: Callable[..., torch.Tensor],
    noise: torch.Tensor,
    *,
    steps: int = 1,
    cond: Mapping[str, torch.Tensor] | None = None,
    guidance: Guidance | None = None,
    check: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """MeanFlow sampling on a uniform grid from 1 to 0: z <- z - (t_i - t_{i+1}) u(z, t_{i+1}, t_i).

    One step is x = eps - u(eps, 0, 1). Guidance, if given, is applied at every step; `check`
    as in `integrate` (called before each network evaluation).
    """
    return integrate(model, noise, steps=steps, average=True, cond=cond, guidance=guidance, check=check)
