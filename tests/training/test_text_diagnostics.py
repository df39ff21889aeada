"""scripts/text_diagnostics.py on the packaged model: it runs, and its ceiling reads the world
right (captions name what sounds, so their words predict a clip's overall spectrum)."""

from __future__ import annotations

import math

import pytest

from tests.script_loading import load_script


def _load():
    return load_script("text_diagnostics")


@pytest.mark.timeout(300)
def test_text_diagnostics_measures_the_packaged_model(tmp_path, capsys):
    module = _load()
    out = tmp_path / "diag.json"
    assert module.main(["--clips", "6", "--material-clips", "0", "--json", str(out)]) == 0
    import json

    result = json.loads(out.read_text())
    numbers = {k: v for k, v in result.items() if isinstance(v, float)}
    assert all(math.isfinite(v) for v in numbers.values()), numbers
    # a swapped video changes a request more than nothing does; the output has the data's scale
    assert result["rms_swap_video"] > 0.1 and 0.3 < result["rms_output"] < 3
    # the words of a caption explain much of the clip's spectrum, and the encoder passes it on
    assert result["clip_spectrum_r2_caption_words_ridge"] > 0.3
    assert result["clip_spectrum_r2_pooled_text_features_ridge"] > 0.3
    assert "rms_text_only_swap_text" in capsys.readouterr().out
    # the conditional-mean estimates (z - v(z, 1)) are measured for every condition
    assert {f"clip_spectrum_r2_{c}_mean_estimate" for c in ("text_only", "video_only", "unconditional")} <= set(numbers)


def test_user_phrasing_replaces_every_caption_with_a_prompt_for_the_same_clip():
    import torch

    from mfmjt_core.model import AudioModel
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL
    from mfmjt_core.synth.world import split_seeds
    from mfmjt_core.training.synth_task import SynthTask

    module = _load()
    task = SynthTask(AudioModel.load(EMBEDDED_MODEL))
    seeds = split_seeds("val", 4)
    with torch.no_grad():
        batch, clips = module._batch(task, seeds, "user")
    assert len(batch["captions"]) == 4
    assert all(p != c.caption for p, c in zip(batch["captions"], clips) if c.events)
    again, _ = module._batch(task, seeds, "user")
    assert again["captions"] == batch["captions"]


@pytest.mark.timeout(300)
def test_named_materials_hears_each_prompts_take():
    from mfmjt_core.evaluation.material_classifier import fit_on_world
    from mfmjt_core.synth import MATERIALS

    result = _load().named_materials(None, 1, fit_on_world(40))
    heard = result["named_material_heard"]
    assert set(heard) == set(MATERIALS) and all(sum(c.values()) == 1 for c in heard.values())
    assert set().union(*heard.values()) <= set(MATERIALS) | {"none"}
    assert result["named_material_accuracy"] == sum(heard[m].get(m, 0) for m in MATERIALS) / len(MATERIALS)
