"""The mel codec's log-mel ceiling: measured on data, stored in a model file, the recipe's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfmjt_core.codec.mel_ceiling import measure_log_mel_ceiling, world_log_mel_ceiling
from mfmjt_core.codec.mel_codec import MelCodec, MelCodecConfig
from mfmjt_core.model import AudioModel, tiny_random_spec
from mfmjt_core.model.file import set_mel_ceiling


def test_no_frame_of_the_measured_audio_is_capped():
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, s, 16000).astype(np.float32) for s in (0.01, 0.3, 0.05)]
    plain = MelCodec(MelCodecConfig(n_mels=32))
    ceiling = measure_log_mel_ceiling(plain, waves)
    assert len(ceiling) == 32
    capped = MelCodec(MelCodecConfig(n_mels=32, log_mel_ceiling=ceiling))
    for wave in waves:
        latent = plain.encode(torch.from_numpy(wave)[None])
        torch.testing.assert_close(capped.decode(latent), plain.decode(latent))
    loudest = plain.latent_to_log_mel(plain.encode(torch.from_numpy(waves[1])[None]))[0].amax(dim=-1)
    np.testing.assert_allclose(ceiling, loudest.numpy(), atol=1.01e-3)  # the loudest clip sets it
    with pytest.raises(ValueError, match="no audio"):
        measure_log_mel_ceiling(plain, [])


def test_a_model_file_takes_the_ceiling_and_the_generator_decodes_with_it(tmp_path):
    from mfmjt_core.pipeline.generator import Generator

    spec = tiny_random_spec()
    path = AudioModel.create(spec, generator=torch.Generator().manual_seed(0)).save(tmp_path / "m.safetensors")
    before = Generator.load(path).generate(prompt="rain", duration=1.0, seed=1, peak_ceiling=None).audio
    ceiling = (-3.0,) * spec.codec.config.n_mels
    config = set_mel_ceiling(path, ceiling, "test")
    assert config["codec"]["config"]["log_mel_ceiling"] == list(ceiling)
    assert config["training"]["log_mel_ceiling_from"]["because"] == "test"
    generator = Generator.load(path)
    assert generator.model.codec.config.log_mel_ceiling == ceiling
    after = generator.generate(prompt="rain", duration=1.0, seed=1, peak_ceiling=None).audio
    assert not np.allclose(before, after)  # an untrained model's takes are far louder than -3 nats
    set_mel_ceiling(path, None, "removed")
    assert Generator.load(path).model.codec.config.log_mel_ceiling is None
    np.testing.assert_array_equal(Generator.load(path).generate(prompt="rain", duration=1.0, seed=1,
                                                                peak_ceiling=None).audio, before)


@pytest.mark.timeout(300)
def test_the_recipes_ceiling_is_the_worlds_loudest():
    from mfmjt_core.training.recipes import WORLD_LOG_MEL_CEILING, tiny_synth_spec

    config = tiny_synth_spec().codec.config
    assert config.log_mel_ceiling == WORLD_LOG_MEL_CEILING
    assert world_log_mel_ceiling(config, 400) == WORLD_LOG_MEL_CEILING


def test_the_script_writes_and_removes_the_worlds_ceiling(tmp_path, capsys):
    from tests.script_loading import load_script

    script = load_script("mel_ceiling")
    spec = tiny_random_spec()
    path = AudioModel.create(spec, generator=torch.Generator().manual_seed(0)).save(tmp_path / "m.safetensors")
    assert script.main([str(path), "--clips", "4"]) == 0
    assert "log-mel ceiling" in capsys.readouterr().out
    from mfmjt_core.pipeline.generator import Generator

    expected = world_log_mel_ceiling(spec.codec.config, 4)
    assert Generator.load(path).model.codec.config.log_mel_ceiling == expected
    assert script.main([str(path), "--remove"]) == 0
    assert Generator.load(path).model.codec.config.log_mel_ceiling is None


def test_headroom_raises_every_band_by_its_decibels():
    from mfmjt_core.codec.mel_ceiling import DB_PER_NAT, with_headroom

    ceiling = (0.5, -1.25, 0.003)
    assert with_headroom(ceiling, 0.0) == ceiling
    raised = with_headroom(ceiling, 6.0)
    assert all(abs((r - c) * DB_PER_NAT - 6.0) < 0.01 and r >= c + 6.0 / DB_PER_NAT
               for r, c in zip(raised, ceiling))
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            with_headroom(ceiling, bad)


def test_the_script_writes_the_ceiling_with_headroom_and_refuses_a_negative_one(tmp_path, capsys):
    from mfmjt_core.codec.mel_ceiling import with_headroom
    from mfmjt_core.model.file import read_model
    from tests.script_loading import load_script

    script = load_script("mel_ceiling")
    spec = tiny_random_spec()
    path = AudioModel.create(spec, generator=torch.Generator().manual_seed(0)).save(tmp_path / "m.safetensors")
    assert script.main([str(path), "--clips", "4", "--headroom-db", "6"]) == 0
    _, config = read_model(path)
    expected = with_headroom(world_log_mel_ceiling(spec.codec.config, 4), 6.0)
    assert tuple(config["codec"]["config"]["log_mel_ceiling"]) == expected
    assert config["training"]["log_mel_ceiling_from"]["because"].endswith("4 clips + 6 dB")
    before = path.read_bytes()
    assert script.main([str(path), "--clips", "4", "--headroom-db", "-3"]) == 2
    assert "headroom" in capsys.readouterr().err and path.read_bytes() == before
