"""The training loop: loss goes down, resume is exact, overrides parse."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from mfmjt_core.training.draws import draw
from mfmjt_core.training.loop import train
from mfmjt_core.training.train_config import ObjectiveConfig, OptimConfig, TrainConfig, apply_overrides
from tests.training.toy_task import ToyTask


def _config(steps=60, kind="meanflow"):
    return TrainConfig(steps=steps, batch_size=32, seed=3, log_every=10, checkpoint_every=20,
                       objective=ObjectiveConfig(kind=kind), optim=OptimConfig(lr=3e-3, warmup_steps=5))


def _losses(path):
    return [json.loads(line)["raw_mse"] for line in (path / "log.jsonl").read_text().splitlines()]


def _fixed_eval(model, kind):
    from mfmjt_core.flows import fm_loss, meanflow_loss

    task, g = ToyTask(), torch.Generator().manual_seed(123)
    x = task.batch(range(4096))
    with torch.no_grad() if kind == "fm" else torch.enable_grad():
        fn = fm_loss if kind == "fm" else meanflow_loss
        return fn(model, x, generator=g)[1]["raw_mse"]


@pytest.mark.parametrize("kind", ["fm", "meanflow"])
def test_training_improves_the_model(tmp_path, kind):
    before = _fixed_eval(ToyTask().model, kind)
    train(ToyTask(), _config(150, kind), tmp_path, progress=None)
    trained = ToyTask().model
    trained.load_state_dict(load_file(tmp_path / "model.safetensors"))
    after = _fixed_eval(trained, kind)
    assert after < 0.8 * before, (before, after)
    assert (tmp_path / "config.json").exists() and len(_losses(tmp_path)) == 15


def test_resume_replays_an_uninterrupted_run(tmp_path):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    train(ToyTask(), _config(60), straight, progress=None)
    train(ToyTask(), _config(60), resumed, progress=None, stop_after=40)  # "killed" after step 40
    assert not (resumed / "model.safetensors").exists()
    train(ToyTask(), _config(60), resumed, progress=None)
    assert _losses(straight) == _losses(resumed)
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)


def test_draws_do_not_depend_on_how_the_batch_is_split():
    cfg = ObjectiveConfig()
    whole = draw(range(8), step=5, seed=1, shape=(3,), objective=cfg, null_video=0.5, null_text=0.5)
    half = draw(range(4, 8), step=5, seed=1, shape=(3,), objective=cfg, null_video=0.5, null_text=0.5)
    assert torch.equal(whole.noise[4:], half.noise) and torch.equal(whole.t[4:], half.t)
    assert torch.equal(whole.drop_video[4:], half.drop_video)
    assert torch.all(whole.r <= whole.t)


def test_endpoint_rows_learn_the_whole_interval_and_leave_the_other_draws_alone():
    plain = ObjectiveConfig(mu=1.2, equal_fraction=0.5)
    ends = ObjectiveConfig(mu=1.2, equal_fraction=0.5, endpoint_fraction=0.5)
    rows = range(400)
    a = draw(rows, step=3, seed=7, shape=(2,), objective=plain, null_video=0.4, null_text=0.3)
    b = draw(rows, step=3, seed=7, shape=(2,), objective=ends, null_video=0.4, null_text=0.3)
    moved = (a.t != b.t) | (a.r != b.r)
    assert torch.all(b.t[moved] == 1.0) and torch.all(b.r[moved] == 0.0)
    assert torch.all(a.r[moved] < a.t[moved])  # only average-velocity rows become endpoints
    equal = a.r == a.t
    assert not moved[equal].any()
    share = moved.sum().item() / (~equal).sum().item()
    assert 0.4 < share < 0.6
    # the logit-normal draws alone reach the whole interval almost never
    assert not ((a.t > 0.95) & (a.r < 0.05)).any()
    for same in ("noise", "drop_video", "drop_text", "omega"):
        assert torch.equal(getattr(a, same), getattr(b, same))


def test_endpoint_fraction_is_checked():
    with pytest.raises(ValueError, match="share"):
        ObjectiveConfig(endpoint_fraction=1.5)
    with pytest.raises(ValueError, match="MeanFlow"):
        ObjectiveConfig(kind="fm", endpoint_fraction=0.2)
    assert apply_overrides(TrainConfig(), ["objective.endpoint_fraction=0.25"]).objective.endpoint_fraction == 0.25


def test_overrides():
    cfg = apply_overrides(TrainConfig(), ["steps=5", "optim.lr=1e-4", "objective.kind=fm", "objective.omega=2.0",
                                          "objective.interval=0.1,0.9"])
    assert (cfg.steps, cfg.optim.lr, cfg.objective.kind, cfg.objective.omega) == (5, 1e-4, "fm", 2.0)
    assert cfg.objective.interval == (0.1, 0.9)
    with pytest.raises(ValueError):
        apply_overrides(TrainConfig(), ["nope=1"])
