"""Batched generation gives the generator's own results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mfmjt_core.evaluation.batched import BatchGenerator, ClipInput, Sampling
from mfmjt_core.evaluation.scoring import analysis_db
from mfmjt_core.pipeline.generator import Generator


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from mfmjt_core.synth import make_clip, split_seeds, write_clip

    folder = tmp_path_factory.mktemp("clips")
    items = []
    for seed in split_seeds("test", 2, start=3):  # 30000/1001 fps clips: the MP4 is 8.008 s long
        clip = make_clip(seed)
        files = write_clip(clip, folder / f"{seed}.mp4")
        items.append(ClipInput(seed, Path(files.video), clip.caption, clip.duration_s))
    return Generator.load("tiny-random"), items


def _reference(generator, item, sampling):
    kwargs = dict(seed=item.seed, steps=sampling.steps, guidance=sampling.guidance, rescale=sampling.rescale,
                  temperature=sampling.temperature, sample_rate=16_000, peak_ceiling=None)  # raw, as scored
    if sampling.uses_video:
        kwargs.update(video=item.video, end=item.duration)
    else:
        kwargs.update(duration=item.duration)
    if sampling.uses_text:
        kwargs["prompt"] = item.caption
    return generator.generate(**kwargs).audio[0, 0]


@pytest.mark.parametrize("sampling", [Sampling(1, 2.0, "zero_star", "video"),
                                      Sampling(2, 2.0, "none", "text"),
                                      Sampling(1, 3.0, "std", "both"),
                                      Sampling(2, 1.0, "none", "video", 0.5)],
                         ids=lambda s: f"{s.modality}-t{s.temperature}")
def test_batch_of_one_equals_the_generator(setup, sampling):
    generator, items = setup
    got = BatchGenerator(generator, batch_size=1).generate(items, sampling)
    for item, wave in zip(items, got):
        assert wave.shape == (128_000,)
        np.testing.assert_array_equal(wave, _reference(generator, item, sampling))


def test_larger_batches_agree_up_to_rounding(setup):
    generator, items = setup
    sampling = Sampling(1, 2.0, "plain", "both")
    one = BatchGenerator(generator, batch_size=1).generate(items, sampling)
    two = BatchGenerator(generator, batch_size=2).generate(items, sampling)
    for a, b in zip(one, two):
        # The network's rounding differs with the batch, and Griffin-Lim's phase search can turn
        # that into other phases (waveform correlation 0.94 on an AVX-512 CPU), so compare what is
        # scored, the spectrum: rows mixed up between clips would differ by decibels, not 0.01.
        db_a, db_b = analysis_db(a), analysis_db(b)
        assert np.abs(db_a - db_b).mean() < 0.1
        assert np.abs(a).max() <= 1.0 and np.abs(b).max() <= 1.0


def test_sampling_rules():
    assert not Sampling(1, 1.0, "zero_star", "video").guided
    assert not Sampling(1, 2.0, "none", "video").guided
    assert Sampling(1, 2.0, "plain", "text").uses_text and not Sampling(1, 2.0, "plain", "text").uses_video
    with pytest.raises(ValueError):
        Sampling(1, 2.0, "plain", "audio")


def test_the_models_spectrum_median_reaches_both_paths(setup, tmp_path):
    """A model file whose defaults smooth takes with a picture (median over 3 frames) but not
    prompt-only ones: the generator and the evaluation's batches decode the same takes."""
    from mfmjt_core.model import AudioModel

    generator, items = setup
    spec = generator.model.spec
    smoothed = AudioModel.create(spec)
    smoothed.load_state_dict(generator.model.state_dict())
    path = smoothed.save(tmp_path / "m.safetensors")
    from mfmjt_cli.entry import main

    assert main(["defaults", str(path), "--median-frames", "3", "--text-median-frames", "1", "--because", "test"]) == 0
    median = Generator.load(path)
    video, text = Sampling(1, 2.0, "plain", "video"), Sampling(1, 2.0, "plain", "text")
    batched_video = BatchGenerator(median, batch_size=1).generate(items[:1], Sampling(1, 2.0, "plain", "video",
                                                                                      median_frames=3))
    np.testing.assert_array_equal(batched_video[0], _reference(median, items[0], video))
    assert not np.allclose(batched_video[0], _reference(generator, items[0], video))  # the median changed it
    # prompt only: no median, the take of the same network without one
    np.testing.assert_array_equal(_reference(median, items[0], text), _reference(generator, items[0], text))
