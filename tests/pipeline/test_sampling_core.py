"""The generator, the batched evaluation and the benchmark sample through one core and agree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import mfmjt_core.pipeline.generator as generator_module
import mfmjt_core.pipeline.sampling as sampling_module
from mfmjt_core import benchmark
from mfmjt_core.evaluation.batched import BatchGenerator, ClipInput, Sampling
from mfmjt_core.model import SamplingDefaults, SamplingSettings
from mfmjt_core.pipeline.generator import Generator
from mfmjt_core.pipeline.sampling import sample_latents, sampler_for
from tests.evaluation.test_eval_batched import _reference as generator_output


@pytest.fixture()
def calls(monkeypatch):
    """Every call of the sampling core, from any caller: (args, kwargs, latents)."""
    seen = []

    def spy(*args, **kwargs):
        out = sample_latents(*args, **kwargs)
        seen.append((args, kwargs, out.clone()))
        return out

    for module in (sampling_module, generator_module, benchmark):
        monkeypatch.setattr(module, "sample_latents", spy)
    return seen


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from mfmjt_core.synth import make_clip, split_seeds, write_clip

    seed = split_seeds("test", 1, start=5)[0]
    made = make_clip(seed)
    files = write_clip(made, tmp_path_factory.mktemp("clip") / "clip.mp4")
    return ClipInput(seed, Path(files.video), made.caption, 8.0)


@pytest.mark.parametrize("sampling", [Sampling(1, 2.0, "zero_star", "both"), Sampling(3, 1.5, "plain", "video"),
                                      Sampling(2, 1.0, "none", "text", 0.5)], ids=lambda s: s.modality)
def test_generator_and_evaluation_give_identical_latents(calls, clip, sampling):
    torch.set_num_threads(1)
    gen = Generator.load("tiny-random")
    generator_output(gen, clip, sampling)  # the generator's own request for this clip
    BatchGenerator(gen, batch_size=1).generate([clip], sampling)
    assert len(calls) == 2
    (g_args, _, g_out), (e_args, _, e_out) = calls
    assert g_args[4] == e_args[4] == sampling.settings  # the same settings reached the core
    for name in ("clip_f", "sync_f", "text_f"):
        torch.testing.assert_close(g_args[2][name], e_args[2][name], rtol=0, atol=0)
    torch.testing.assert_close(g_args[3], e_args[3], rtol=0, atol=0)  # the same noise
    torch.testing.assert_close(g_out, e_out, rtol=0, atol=0)


def test_benchmark_samples_through_the_core_with_the_generators_rule(calls):
    torch.set_num_threads(1)
    benchmark.run_benchmark("tiny-random", steps=(1, 2), repeats=1, guidance=2.0)
    rows = [c for c in calls if "forward" in c[1]]  # the benchmark's own rows (a whole request also runs)
    one_step = [c for c in rows if c[0][4].steps == 1]
    assert one_step and {c[0][4].sampler for c in one_step} == {"meanflow"}
    assert {c[0][4].sampler for c in rows if c[0][4].steps == 2} == {"euler"}
    args, _, out = one_step[0]
    net, objective, cond, noise, settings = args
    # The generator's rule (sampler "auto") picks the same one step for this MeanFlow model.
    auto = SamplingSettings(settings.steps, settings.guidance, settings.rescale, settings.temperature)
    torch.testing.assert_close(sample_latents(net, objective, cond, noise, auto), out, rtol=0, atol=0)


class _Open:
    """A request that leaves every sampling setting to the model unless given here."""

    def __init__(self, **given) -> None:
        self.steps = self.guidance = self.rescale = self.temperature = None
        self.__dict__.update(given)


def test_defaults_fill_only_what_the_request_leaves_open():
    defaults = SamplingDefaults(steps=1, guidance=2.0, rescale="zero_star", temperature=0.75)
    assert defaults.resolve(_Open(steps=4, rescale="none")) == SamplingSettings(4, 2.0, "none", 0.75)
    assert defaults.resolve(None) == SamplingSettings(1, 2.0, "zero_star", 0.75)
    assert not SamplingSettings(1, 1.0, "plain").guided and not SamplingSettings(1, 3.0, "none").guided


def test_a_request_without_a_picture_takes_the_text_temperature():
    defaults = SamplingDefaults(steps=1, guidance=1.0, rescale="zero_star", temperature=0.75, text_temperature=1.0)
    assert defaults.resolve(_Open()).temperature == 0.75
    assert defaults.resolve(_Open(), has_picture=False).temperature == 1.0
    # the request's own value wins either way
    assert defaults.resolve(_Open(temperature=0.5), has_picture=False).temperature == 0.5
    plain = SamplingDefaults(temperature=0.75)  # files without one: the one temperature for all
    assert plain.temperature_for(False) == 0.75 and "text_temperature" not in plain.to_dict()
    assert SamplingDefaults(**defaults.to_dict()) == defaults


def test_a_request_without_a_picture_takes_the_text_guidance():
    defaults = SamplingDefaults(steps=1, guidance=1.25, rescale="plain", text_guidance=3.0)
    assert defaults.resolve(_Open()).guidance == 1.25
    assert defaults.resolve(_Open(), has_picture=False) == SamplingSettings(1, 3.0, "plain", 1.0)
    # the request's own scale wins either way
    assert defaults.resolve(_Open(guidance=2.0), has_picture=False).guidance == 2.0
    plain = SamplingDefaults(guidance=1.25)  # files without one: the one scale for all
    assert plain.guidance_for(False) == 1.25 and "text_guidance" not in plain.to_dict()
    assert SamplingDefaults(**defaults.to_dict()) == defaults


def test_samplers_follow_the_objective_unless_named():
    assert sampler_for("meanflow") is sampling_module.sample
    assert sampler_for("fm") is sampling_module.sample_euler
    assert sampler_for("meanflow", "euler") is sampling_module.sample_euler
    with pytest.raises(ValueError, match="unknown sampler"):
        sampler_for("fm", "heun")


def _guidance_input_net():
    """A tiny network with guidance as an input, every weight drawn (zero-init layers would hide w)."""
    from mfmjt_core.network import build_network

    net = build_network("tiny_test", time_convention="meanflow", guidance_input=True)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.normal_(0.0, 0.05, generator=g)
    g = torch.Generator().manual_seed(1)
    cond = {"clip_f": torch.randn(2, 8, 32, generator=g), "sync_f": torch.randn(2, 24, 24, generator=g),
            "text_f": torch.randn(2, 77, 32, generator=g)}
    return net.eval(), cond, torch.randn(2, 25, 20, generator=g)


def _count_rows(net):
    rows = []
    handle = net.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    return rows, handle


def test_a_guidance_input_network_is_told_w_and_evaluated_once_per_step():
    torch.set_num_threads(1)
    net, cond, noise = _guidance_input_net()
    rows, handle = _count_rows(net)
    try:
        for steps in (1, 3):
            rows.clear()
            sample_latents(net, "meanflow", cond, noise, SamplingSettings(steps, 2.0, "zero_star"))
            assert rows == [2] * steps  # one evaluation per step, the variations only: no CFG branch
        # a network without the input at the same settings evaluates both branches
        plain = dataclasses.replace(net.config, guidance_input=False)
        from mfmjt_core.network import MMDiT

        other = MMDiT(plain)
        other_rows, other_handle = _count_rows(other)
        sample_latents(other, "meanflow", cond, noise, SamplingSettings(3, 2.0, "zero_star"))
        other_handle.remove()
        assert other_rows == [4] * 3
    finally:
        handle.remove()
    with torch.no_grad():
        one, three = (sample_latents(net, "meanflow", cond, noise, SamplingSettings(1, w, "zero_star"))
                      for w in (1.0, 3.0))
        again = sample_latents(net, "meanflow", cond, noise, SamplingSettings(1, 3.0, "plain"))
        unguided = sample_latents(net, "meanflow", cond, noise, SamplingSettings(1, 3.0, "none"))
    assert (one - three).abs().max() > 1e-3  # the scale reaches the network
    torch.testing.assert_close(again, three, rtol=0, atol=0)  # no rescale mode applies: w is the guidance
    torch.testing.assert_close(unguided, one, rtol=0, atol=0)  # "none" asks for the conditional alone


def test_a_request_without_a_picture_takes_the_text_median():
    defaults = SamplingDefaults(steps=1, guidance=1.25, rescale="plain", median_frames=3, text_median_frames=1)
    assert defaults.resolve(_Open()).median_frames == 3
    assert defaults.resolve(_Open(), has_picture=False).median_frames == 1
    assert SamplingDefaults(median_frames=5).median_frames_for(False) == 5  # one window for all
    assert "median_frames" in defaults.to_dict() and SamplingDefaults(**defaults.to_dict()) == defaults
    for bad in ({"median_frames": 2}, {"median_frames": 0}, {"text_median_frames": 4}, {"median_frames": 33}):
        with pytest.raises(ValueError, match="odd number of frames"):
            SamplingDefaults(**bad)
