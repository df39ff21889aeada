"""A stage started from a model file (`--init`) exports the encoders it trained, not the recipe's."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mfmjt_core.model import AudioModel
from mfmjt_core.model.file import read_model
from mfmjt_core.training.recipes import TINY_SYNTH, run_recipe, tiny_synth_spec


@pytest.mark.timeout(300)
def test_a_stage_from_a_file_keeps_the_files_encoders(tmp_path, one_torch_thread):
    spec = tiny_synth_spec()
    config = dataclasses.replace(spec.encoders.config, text_layers=1)  # not the recipe's 2
    assert config != spec.encoders.config
    start = AudioModel.create(dataclasses.replace(spec, encoders=dataclasses.replace(spec.encoders, config=config)),
                              generator=torch.Generator().manual_seed(0))
    start_file = start.save(tmp_path / "start.safetensors")

    exported = run_recipe(TINY_SYNTH, tmp_path / "run", stages=["continue"], init=start_file, progress=lambda _: None,
                          overrides={"all": ["steps=1", "batch_size=2", "checkpoint_every=100",
                                             "optim.warmup_steps=1", "picture_augment=0.5",
                                             "neutral_looks=0.5"]})
    _, stored = read_model(exported)
    assert stored["encoders"]["config"]["text_layers"] == 1
    assert stored["training"]["prompt_mix"] == {"user": 0.35, "filler": 0.1, "foreign": 0.05}
    assert stored["training"]["picture_augment"] == 0.5
    assert stored["training"]["neutral_looks"] == 0.5
    model = AudioModel.load(exported)  # strict: the trained text encoder's weights fit its spec
    assert len(model.encoders.text.layers) == 1


@pytest.mark.timeout(300)
def test_a_time_boxed_stage_records_the_steps_it_made(tmp_path, one_torch_thread):
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL

    exported = run_recipe(TINY_SYNTH, tmp_path / "run", stages=["continue"], init=EMBEDDED_MODEL,
                          progress=lambda _: None, minutes=1e-4,
                          overrides={"all": ["steps=5", "batch_size=2", "checkpoint_every=100",
                                             "optim.warmup_steps=1"]})
    _, stored = read_model(exported)
    assert stored["training"]["steps"] == 5 and 1 <= stored["training"]["steps_done"] < 5
