"""`FeatureTask`: row mixing, latent sampling, condition dropout, starting points, bf16 steps."""

from __future__ import annotations

import json

import pytest
import torch

from mfmjt_core.training.draws import Draws, row_seed
from mfmjt_core.training.feature_task import (
    FeatureMix,
    FeatureTask,
    FeatureTaskError,
    initial_network,
    load_mmaudio_network,
)
from mfmjt_core.training.features_store import FeatureSet
from mfmjt_core.training.train_config import ObjectiveConfig, OptimConfig, TrainConfig
from mfmjt_core.weights import StateDictMismatchError
from tests.scale.helpers import SHAPES, tiny_network, write_synthetic_features


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("task")
    return FeatureSet(write_synthetic_features(base / "a", 12)), FeatureSet(
        write_synthetic_features(base / "b", 6, seed=1, audio_only_every=1))


def test_mix_covers_each_row_once_per_epoch_and_weights_repeat(data):
    a, b = data
    mix = FeatureMix([a], seed=3)
    epoch = [mix.locate(i) for i in range(12)]
    assert sorted(epoch) == [(0, r) for r in range(12)] and epoch != [(0, r) for r in range(12)]
    assert [FeatureMix([a], seed=3).locate(i) for i in range(30)] == [mix.locate(i) for i in range(30)]
    both = FeatureMix([a, b], [1.0, 0.5], seed=3)
    assert both.epoch_length == 15
    seen = [both.locate(i) for i in range(15 * 2)]
    assert sum(j == 1 for j, _ in seen[:15]) == 3
    assert {r for j, r in seen if j == 1} == set(range(6))  # a half weight shows the other half next epoch


def test_latent_is_mean_plus_std_times_a_per_row_draw(data):
    a, _ = data
    task = FeatureTask(tiny_network(), [a], seed=9)
    whole, half = task.batch(range(8)), task.batch(range(4, 8))
    assert torch.equal(whole["latent"][4:], half["latent"])  # independent of how rows are split
    _, r = task.mix.locate(5)
    row = a.read([r])
    g = torch.Generator().manual_seed(row_seed(9, 0, 5, 1))  # run seed 9, row 5, latent stream 1
    noise = torch.randn(*SHAPES["latent_shape"], generator=g)
    torch.testing.assert_close(whole["latent"][5], row["latent_mean"][0] + row["latent_std"][0] * noise)


def test_dropped_and_missing_conditions_use_the_learned_empty_features(data):
    a, _ = data
    net = tiny_network()
    task = FeatureTask(net, [a], seed=0)
    batch = a.read(range(5))  # row 3 has no video, row 4 no caption
    n = len(batch["has_video"])
    drop_video, drop_text = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    drop_video[0], drop_text[1] = True, True
    draws = Draws(torch.zeros(n, 16, 20), torch.ones(n), torch.ones(n), drop_video, drop_text)
    cond = task.conditions(batch, draws)
    for i in range(n):
        no_video, no_text = i in (0, 3), i in (1, 4)
        clip = net.empty_clip_feat.expand(8, -1) if no_video else batch["clip_f"][i]
        sync = net.empty_sync_feat.expand(16, -1) if no_video else batch["sync_f"][i]
        text = net.empty_string_feat if no_text else batch["text_f"][i]
        assert torch.equal(cond["clip_f"][i], clip) and torch.equal(cond["sync_f"][i], sync)
        assert torch.equal(cond["text_f"][i], text), i


def test_a_published_mmaudio_checkpoint_loads_unchanged_with_zero_h_embed(tmp_path, load_golden):
    golden = load_golden("mmdit_tiny_v1.pt")
    state = dict(golden["state_dict"])
    state["t_embed.freqs"] = torch.zeros(128)  # a stale buffer some published files carry
    path = tmp_path / "mmaudio_tiny.pth"
    torch.save(state, path)  # the published layout: a plain state dict, no h_embed
    net = initial_network(str(path), "tiny_test", SHAPES)
    assert not net.h_embed.mlp[2].weight.any() and not net.h_embed.mlp[2].bias.any()
    x = golden["inputs"]
    cond = (x["clip_f"], x["sync_f"], x["text_f"])
    with torch.no_grad():
        # measured 4.8e-6 (scripts/golden_errors.py, mmdit_tiny_v1.pt: flow)
        torch.testing.assert_close(net(x["latent"], x["t"], *cond), golden["output_flow"], atol=1e-5, rtol=0)
        # any interval h reads the same until MeanFlow training moves h_embed
        torch.testing.assert_close(net(x["latent"], x["t"], *cond, h=torch.tensor([0.3, 0.9])),
                                   golden["output_flow"], atol=1e-5, rtol=0)
    del state["final_layer.conv.weight"]
    torch.save(state, path)
    with pytest.raises(StateDictMismatchError, match="final_layer.conv.weight"):
        load_mmaudio_network(path, "tiny_test")


def test_training_steps_in_bf16_export_and_restart_from_our_model_file(data, tmp_path):
    from mfmjt_core.training.loop import train

    a, b = data
    task = FeatureTask(tiny_network(), [a, b], seed=1, weights=[1.0, 1.0])
    config = TrainConfig(steps=2, batch_size=4, seed=1, precision="bf16",
                         objective=ObjectiveConfig(kind="meanflow", equal_fraction=0.0, omega=1.5, kappa=0.2),
                         optim=OptimConfig(warmup_steps=1), log_every=1)
    export = train(task, config, tmp_path, progress=None)
    logs = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(logs) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in logs)
    assert logs[0]["frac_r_neq_t"] == 1.0
    net = initial_network(str(export), None, SHAPES)  # our model file: config and weights
    ema = torch.load(tmp_path / "train_state.pt", weights_only=True)["ema"]
    assert net.config == task.model.config and net.state_dict().keys() == ema.keys()
    for name, value in net.state_dict().items():
        assert torch.equal(value, ema[name]), name


def test_a_network_that_does_not_fit_the_features_is_refused(data):
    a, _ = data
    from mfmjt_core.network import build_network

    with pytest.raises(FeatureTaskError, match="clip_dim"):
        FeatureTask(build_network("tiny_test", clip_dim=64), [a], seed=0)
