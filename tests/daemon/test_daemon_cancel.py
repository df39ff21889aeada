"""Prompt cancel: the samplers check between network evaluations, decoding checks between chunks,
so a cancelled job stops within one evaluation, not at the end of an 8 s window."""

from __future__ import annotations

import time

import pytest
import torch
from daemon_testing import wait_for

from mfmjt_core.errors import CancelledError
from mfmjt_core.flows import sample, sample_euler
from mfmjt_core.pipeline.generator import Generator, decode_in_chunks
from mfmjt_core.pipeline.types import CancelToken, GenerateRequest


class _Stop(Exception):
    pass


@pytest.mark.parametrize("sampler", [sample, sample_euler])
def test_the_samplers_check_before_every_evaluation_and_stop_when_it_raises(sampler):
    calls, seen = [], []

    def model(z, r, t):
        calls.append(t[0].item())
        return torch.zeros_like(z)

    def check(done):
        seen.append(done)
        if len(seen) == 4:
            raise _Stop

    with pytest.raises(_Stop):
        sampler(model, torch.zeros(1, 2), steps=10, check=check)
    assert seen == [0.0, 0.1, 0.2, 0.3]
    assert len(calls) == 3  # the fourth evaluation never ran
    seen.clear()
    sampler(model, torch.zeros(1, 2), steps=5, check=seen.append)
    assert seen == [0.0, 0.2, 0.4, 0.6, 0.8]


@pytest.fixture(scope="module")
def generator():
    torch.set_num_threads(1)
    return Generator.load("tiny-random")


def test_decoding_in_chunks_gives_the_one_call_result_and_checks_between_chunks(generator):
    codec = generator.model.codec
    latent = torch.randn(3, codec.num_latents(1.0), codec.latent_dim, generator=torch.Generator().manual_seed(1))
    checks = []
    chunked = decode_in_chunks(codec, latent, lambda: checks.append(1))
    torch.testing.assert_close(chunked, codec.decode(latent), atol=1e-4, rtol=1e-4)
    assert len(checks) == 3
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        decode_in_chunks(codec, latent, token.raise_if_cancelled)


def test_a_cancelled_generation_stops_within_one_network_evaluation(generator):
    evaluations = []
    hook = generator.model.net.register_forward_hook(lambda *_: evaluations.append(time.perf_counter()))
    token, cancelled_after = CancelToken(), []

    def progress(stage, fraction):
        if stage == "sample" and len(evaluations) >= 5 and not token.cancelled:
            token.cancel()
            cancelled_after.append(len(evaluations))

    try:
        with pytest.raises(CancelledError):
            generator.run(GenerateRequest(prompt="x", duration=8.0, steps=1000, seed=1, sample_rate=16_000),
                          progress=progress, cancel=token)
    finally:
        hook.remove()
    # The token is set inside the check before evaluation k + 1: that one never runs.
    assert cancelled_after and len(evaluations) == cancelled_after[0]


def test_the_daemon_ends_a_cancelled_1000_step_job_within_one_evaluation(client):
    job = client.submit(prompt="long", duration=8.0, steps=1000, sample_rate=16_000, seed=3)
    wait_for(lambda: job.progress is not None and job.progress.stage == "sample" and job.progress.fraction > 0.01,
             60, step=lambda: client.poll(0.05), what="sampling to start")
    assert client.cancel(job)["state"] == "cancelling"
    cancelled_at = time.monotonic()
    wait_for(lambda: job.done, 20, step=lambda: client.poll(0.02), what="the cancelled job to end")
    latency = time.monotonic() - cancelled_at
    assert job.error is not None and job.error.code == "cancelled"
    # One evaluation of the test model takes milliseconds; before, the window ran to its end
    # (tens of seconds at 1000 steps). The bound is generous for a loaded 2-core machine.
    assert latency < 3.0, latency
    assert job.progress.fraction < 0.9
