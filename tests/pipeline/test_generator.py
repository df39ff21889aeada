"""The pipeline end to end with a small real model and real media files."""

from __future__ import annotations

import numpy as np
import pytest

from mfmjt_core.errors import CancelledError, MediaError, MissingWeightsError, ResourceError, UnknownModelError
from mfmjt_core.pipeline.generator import Generator
from mfmjt_core.pipeline.types import CancelToken


def test_video_range_to_audio_of_exact_length(generator, video):
    result = generator.generate(video=video, start=1.0, end=4.5, seed=7, sample_rate=44_100, channels=2)
    assert result.audio.shape == (1, 2, round(3.5 * 44_100))
    assert result.audio.dtype == np.float32 and np.isfinite(result.audio).all()
    assert result.seeds == (7,) and result.sample_rate == 44_100 and result.duration == pytest.approx(3.5)
    assert np.array_equal(result.audio[0, 0], result.audio[0, 1])  # mono model duplicated to stereo
    for stage in ("decode_video", "encode_video", "sample", "decode_audio", "resample"):
        assert stage in result.timings


def test_same_seed_same_audio_and_variations_differ(generator, video):
    a = generator.generate(video=video, start=0.0, end=2.0, seed=11, variations=3)
    b = generator.generate(video=video, start=0.0, end=2.0, seed=12)
    assert a.seeds == (11, 12, 13) and a.audio.shape[0] == 3
    # variation k regenerates alone (batched and single runs differ only by float rounding)
    # (Griffin-Lim phase retrieval amplifies that rounding a little)
    corr = lambda x, y: np.corrcoef(x.ravel(), y.ravel())[0, 1]
    assert corr(a.audio[1], b.audio[0]) > 0.98
    assert corr(a.audio[0], a.audio[1]) < 0.9


def test_temperature_scales_the_starting_noise(generator, video):
    """At temperature 0 every seed starts from the same (zero) noise, so the seed no longer matters;
    the default (1) and a lower temperature give different audio from the same seed."""
    cold = [generator.generate(video=video, start=0.0, end=2.0, seed=s, temperature=0.0).audio for s in (1, 2)]
    np.testing.assert_allclose(cold[0], cold[1], atol=1e-5)
    warm = generator.generate(video=video, start=0.0, end=2.0, seed=1).audio
    cool = generator.generate(video=video, start=0.0, end=2.0, seed=1, temperature=0.5).audio
    assert not np.allclose(warm, cool) and not np.allclose(cool, cold[0])
    assert generator.describe()["defaults"]["temperature"] == 1.0
    with pytest.raises(ValueError, match="temperature"):
        generator.generate(video=video, start=0.0, end=2.0, temperature=3.0)


def test_text_to_audio(generator):
    result = generator.generate(prompt="a metal ball bounces on a wooden floor", duration=3.0, seed=1)
    assert result.audio.shape == (1, 1, 3 * 48_000)
    silent_prompt = generator.generate(prompt="a glass cube slides", duration=3.0, seed=1)
    assert not np.allclose(result.audio, silent_prompt.audio)


def test_very_short_ranges(generator, video):
    assert generator.generate(prompt="a pop", duration=0.3, seed=1).audio.shape == (1, 1, round(0.3 * 48_000))
    assert generator.generate(video=video, start=9.6, end=10.0, seed=1).audio.shape == (1, 1, round(0.4 * 48_000))


def test_long_range_is_windowed_and_repeatable(generator, long_video):
    a = generator.generate(video=long_video, start=0.0, end=20.0, seed=5)
    b = generator.generate(video=long_video, start=0.0, end=20.0, seed=5)
    assert a.audio.shape == (1, 1, 20 * 48_000)
    np.testing.assert_array_equal(a.audio, b.audio)


def test_feature_cache_skips_encoders(video, tmp_path):
    gen = Generator.load("tiny-random", cache_dir=tmp_path / "features")
    gen.generate(video=video, start=0.0, end=3.0, seed=1)
    assert (gen.cache.misses, gen.cache.memory_hits) == (1, 0)
    gen.generate(video=video, start=0.0, end=3.0, seed=2, prompt="a wooden ball", steps=2)
    assert (gen.cache.misses, gen.cache.memory_hits) == (1, 1)
    fresh = Generator.load("tiny-random", cache_dir=tmp_path / "features")  # a restarted process
    fresh.generate(video=video, start=0.0, end=3.0, seed=1)
    assert (fresh.cache.misses, fresh.cache.disk_hits) == (0, 1)
    gen.generate(video=video, start=0.5, end=3.0, seed=1)  # another range is another entry
    assert gen.cache.misses == 2


def test_cancellation_stops_between_stages(generator, video):
    token = CancelToken()
    seen = []

    def progress(stage, fraction):
        seen.append(stage)
        if stage == "encode":
            token.cancel()

    with pytest.raises(CancelledError):
        generator.generate(video=video, start=0.0, end=2.0, seed=1, progress=progress, cancel=token)
    assert "sample" not in seen


def test_bad_inputs_are_typed_errors(generator, video, tmp_path):
    with pytest.raises(MediaError):
        generator.generate(video=tmp_path / "missing.mp4", seed=1)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(MediaError):
        generator.generate(video=garbage, seed=1)
    with pytest.raises(MediaError):
        generator.generate(video=video, start=3.0, end=2.0, seed=1)
    with pytest.raises(MediaError):
        generator.generate(video=video, start=50.0, end=52.0, seed=1)
    with pytest.raises(MediaError):  # ends well past the last frame
        generator.generate(video=video, start=8.0, end=12.0, seed=1)
    with pytest.raises(ValueError):
        generator.generate(duration=0.0, seed=1)
    with pytest.raises(ValueError):
        generator.generate(video=video, channels=3)
    small = Generator.load("tiny-random")
    small.max_duration = 5.0
    with pytest.raises(ResourceError):
        small.generate(prompt="x", duration=6.0)
    with pytest.raises(UnknownModelError):
        Generator.load("no-such-model")
    with pytest.raises(MissingWeightsError):
        Generator.load(tmp_path / "absent.safetensors")


def test_a_negative_prompt_without_guidance_is_said_to_change_nothing(generator, caplog):
    import logging

    def notices():
        return [r for r in caplog.records if "negative prompt changes nothing" in r.getMessage()]

    common = dict(prompt="metal clang", negative_prompt="glass", duration=1.0, seed=4)
    with caplog.at_level(logging.WARNING):
        unguided = generator.generate(guidance=1.0, **common)
        assert len(notices()) == 1 and "scale 1" in notices()[0].getMessage()
        alone = generator.generate(guidance=1.0, **{**common, "negative_prompt": ""})
        np.testing.assert_array_equal(unguided.audio, alone.audio)  # what the notice says
        caplog.clear()
        guided = generator.generate(guidance=2.0, **common)
        assert not notices()
    assert not np.array_equal(guided.audio, generator.generate(guidance=2.0, **{**common, "negative_prompt": ""}).audio)
