"""The documented recipes (docs/training.md) and the `--data DIR[:WEIGHT]` syntax."""

from __future__ import annotations

from mfmjt_core.training.feature_recipes import PAPER, PRESETS, SMALL, parse_data


def test_paper_recipe_is_mmaudio_then_meanaudio():
    fm, meanflow = (s.config for s in PAPER.stages)
    assert (fm.batch_size, fm.steps, fm.optim.lr, fm.optim.warmup_steps) == (512, 300_000, 1e-4, 1_000)
    assert (fm.optim.weight_decay, fm.optim.grad_clip, fm.precision) == (1e-6, 1.0, "bf16")
    assert (fm.null_video, fm.null_text, fm.objective.kind, fm.objective.mu, fm.objective.sigma) == (
        0.1, 0.1, "fm", 0.0, 1.0)
    assert (meanflow.batch_size, meanflow.steps, meanflow.optim.lr) == (128, 200_000, 1e-4)
    assert meanflow.objective.kind == "meanflow" and meanflow.objective.jvp_fp32
    assert meanflow.objective.equal_fraction == 0.75 and PAPER.variant == "small_16k"


def test_presets_run_flow_matching_before_meanflow():
    for preset in PRESETS.values():
        assert [s.name for s in preset.stages] == ["fm", "meanflow"]
        assert [s.config.objective.kind for s in preset.stages] == ["fm", "meanflow"]
    assert SMALL.stages[0].config.batch_size == 16


def test_data_weights():
    assert parse_data(["vgg", "audiocaps:0.5", "/d/x:y"]) == (["vgg", "audiocaps", "/d/x:y"], [1.0, 0.5, 1.0])
