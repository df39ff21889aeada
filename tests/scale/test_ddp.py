"""Two processes under torchrun (gloo, CPU): MeanFlow gradients are all-reduced, resume is exact.

The proof that DDP's all-reduce happens with the MeanFlow JVP: after one step, the gradients
of each of two processes (4 rows each) equal those of one process on the same 8 rows. The same
comparison fails when the prediction bypasses the DDP wrapper (`bypass_ddp`, the pitfall of
method.md 2.8): each rank then keeps the gradient of its own half.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.scale.ddp_worker import gradients_of_one_step
from tests.scale.helpers import losses, torchrun, write_synthetic_features


def relative_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    x, y = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return float((x - y).norm() / y.norm())


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """(one-process reference gradients, the folder of the two-process runs)."""
    base = tmp_path_factory.mktemp("ddp")
    data = write_synthetic_features(base / "features", 40)
    torchrun(2, "-m", "tests.scale.ddp_worker", str(data), str(base / "runs"))
    with pytest.MonkeyPatch.context() as mp:
        for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            mp.delenv(key, raising=False)
        reference = gradients_of_one_step(data, base / "one")  # one process, the same 8 rows
    return reference, base / "runs"


def test_meanflow_gradients_are_all_reduced(two_process_run):
    reference, runs = two_process_run
    # every tensor has a gradient to compare, except the query norms of the last joint block's
    # clip and text streams (their queries only feed outputs that block discards)
    assert sum(bool(g.abs().sum() == 0) for g in reference) == 2
    ddp = [torch.load(runs / f"grads_ddp_rank{r}.pt", weights_only=True) for r in (0, 1)]
    for grads in ddp:
        assert len(grads) == len(reference)
        assert relative_error(grads, reference) < 1e-5
        for g, ref in zip(grads, reference):  # tensor by tensor, relative to its own size
            assert float((g - ref).norm()) <= 1e-4 * float(ref.norm()) + 1e-12


def test_the_comparison_fails_when_ddp_is_bypassed(two_process_run):
    reference, runs = two_process_run
    bypassed = [torch.load(runs / f"grads_bypass_rank{r}.pt", weights_only=True) for r in (0, 1)]
    for grads in bypassed:
        assert relative_error(grads, reference) > 0.05  # a half batch's gradient, not the average
    assert relative_error(bypassed[0], bypassed[1]) > 0.05  # the ranks never synchronised
    # ...yet their mean is the full-batch gradient: what the all-reduce would have computed
    mean = [(a + b) / 2 for a, b in zip(*bypassed)]
    assert relative_error(mean, reference) < 1e-5


def test_stop_and_resume_under_torchrun_replays_the_run(two_process_run):
    _, runs = two_process_run
    straight, resumed = losses(runs / "straight"), losses(runs / "resumed")
    assert sorted(straight) == list(range(1, 5))
    assert straight == resumed  # bit-identical losses, step by step
    a = load_file(runs / "straight" / "model.safetensors")
    b = load_file(runs / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
