"""What every training task shares: dropping conditions to the network's learned empties, and
the loss of the stage's objective (flow matching, or MeanFlow with optional folded guidance)."""

from __future__ import annotations

import torch

from mfmjt_core.flows import fm_loss, meanflow_loss
from mfmjt_core.training.train_config import ObjectiveConfig


def drop_conditions(net, features: dict[str, torch.Tensor], no_video: torch.Tensor,
                    no_text: torch.Tensor) -> dict[str, torch.Tensor]:
    """The features with the rows in `no_video` / `no_text` ((B,) bools) replaced by the
    network's learned empty video and empty-string text, as at sampling without them."""
    v, t = no_video.view(-1, 1, 1), no_text.view(-1, 1, 1)
    clip_f, sync_f, text_f = features["clip_f"], features["sync_f"], features["text_f"]
    return {
        "clip_f": torch.where(v, net.empty_clip_feat.expand_as(clip_f), clip_f),
        "sync_f": torch.where(v, net.empty_sync_feat.expand_as(sync_f), sync_f),
        "text_f": torch.where(t, net.empty_string_feat.expand_as(text_f), text_f),
    }


def guidance_scales(objective: ObjectiveConfig, net, draws, conditioned: torch.Tensor) -> torch.Tensor | None:
    """(B,) scales w a `guidance_input` network is given (None when `objective.omega_range` is
    off): each row's drawn omega, and 1 (unguided) for rows left with no condition."""
    if objective.omega_range is None:
        return None
    if not getattr(net.config, "guidance_input", False):
        raise ValueError("objective.omega_range needs a network built with guidance_input=True")
    return torch.where(conditioned, draws.omega.to(draws.t.dtype), torch.ones_like(draws.t))


def folded_guidance(
    objective: ObjectiveConfig, net, cond: dict[str, torch.Tensor], conditioned: torch.Tensor,
    omega: torch.Tensor | None = None,
) -> dict:
    """`meanflow_loss` arguments for CFG folded into the target (`objective.omega`, or the per-row
    scales `omega` under `objective.omega_range`; {} when off).

    A row is guided toward whatever conditions it kept (video, text or both) against the fully
    empty ones, so every kind of request learns the guided velocity; rows left with no condition
    (`conditioned` False) keep plain v: they are the unconditional model the guidance subtracts.
    """
    scale = objective.omega if objective.omega_range is None else omega
    if scale is None:
        return {}
    b = cond["clip_f"].shape[0]
    return {
        "omega": scale, "kappa": objective.kappa, "interval": objective.interval,
        "uncond": net.empty_conditions(b, cond["clip_f"].shape[1], cond["sync_f"].shape[1]),
        "guided_rows": conditioned,
    }


def objective_loss(objective: ObjectiveConfig, u, jvp_u, net, x: torch.Tensor, cond: dict[str, torch.Tensor],
                   draws, conditioned: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """The stage's loss on data `x` (normalised latents): flow matching, or MeanFlow with its
    weighting, derivative and folded guidance. `u` is the model the loss differentiates through,
    `jvp_u` the one the MeanFlow target's JVP runs on (the same module outside DDP)."""
    if objective.kind == "fm":
        return fm_loss(u, x, cond=cond, noise=draws.noise, t=draws.t)
    w = guidance_scales(objective, net, draws, conditioned)
    if w is not None:  # the network is told each row's scale, in the prediction and the JVP
        cond = {**cond, "w": w}
    return meanflow_loss(
        u, x, cond=cond, noise=draws.noise, t=draws.t, r=draws.r, weight_p=objective.weight_p,
        weight_c=objective.weight_c, jvp_fp32=objective.jvp_fp32, derivative=objective.derivative,
        jvp_model=jvp_u, **folded_guidance(objective, net, cond, conditioned, w),
    )
