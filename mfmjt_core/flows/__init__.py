"""Objectives and samplers as pure functions over a model callable u(z, r, t, **cond).

Convention: t = 1 noise, t = 0 data, z_t = (1 - t) x + t eps, v = eps - x.
"""

from mfmjt_core.flows.flow_matching import fm_loss, sample_euler
from mfmjt_core.flows.guidance import Guidance, combine
from mfmjt_core.flows.meanflow import meanflow_loss, sample

__all__ = ["Guidance", "combine", "fm_loss", "meanflow_loss", "sample", "sample_euler"]
