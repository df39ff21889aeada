"""What users hear from the embedded model when they type a prompt: sound, whatever the phrasing.

A model that learned to read captions only in the templates' phrasing answered "metal ball
bouncing" with a take 50-70 dB below full scale, and so would answer most prompts users type.
These prompts are in users' words or name nothing of the world; each must come out audible.
`MFMJT_PROMPT_MODEL` checks another model file (a candidate before it is shipped).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from mfmjt_core.pipeline.generator import Generator

# Captions as the world's clips are captioned; the clips' median level is -28 dB RMS.
CAPTIONS = ("a glass cube bounces on a metal floor", "a wooden cube pops up and bounces on a metal floor",
            "a wooden ball rolls across the stone floor and hits the wall")
USER_PROMPTS = ("metal ball bouncing", "bouncing rubber balls", "glass cube sliding, machine humming",
                "wooden cube falls", "sound effect of a red lamp beeping")
OUTSIDE_THE_WORLD = ("dog barking", "footsteps on gravel", "a door slams")
# The world's sounding clips peak near full scale, its quiet ones (13% of clips) below -20 dBFS:
# a prompt read as "no information" may draw one, so the median of three takes is judged.
AUDIBLE_PEAK_DBFS = -30.0


@pytest.fixture(scope="module")
def generator():
    return Generator.load(os.environ.get("MFMJT_PROMPT_MODEL") or None)


def _peak_dbfs(audio: np.ndarray) -> float:
    return float(20 * np.log10(max(float(np.abs(audio).max()), 1e-9)))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("prompt", USER_PROMPTS + OUTSIDE_THE_WORLD)
def test_a_typed_prompt_is_answered_with_sound(generator, prompt):
    peaks = [_peak_dbfs(generator.generate(prompt=prompt, duration=8.0, seed=seed).audio) for seed in (1, 2, 3)]
    assert float(np.median(peaks)) > AUDIBLE_PEAK_DBFS, (prompt, peaks)


def _rms_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(audio)))), 1e-9)))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("caption", CAPTIONS)
def test_a_prompt_comes_out_at_the_worlds_level(generator, caption):
    """Prompt-only requests sample at the model's text temperature: cooled like video requests
    (0.75), one-step takes fell toward the average of every possible timing, 15-30 dB too quiet."""
    levels = [_rms_db(generator.generate(prompt=caption, duration=8.0, seed=seed).audio) for seed in (1, 2, 3)]
    assert float(np.median(levels)) > -36.0, (caption, levels)


@pytest.mark.timeout(300)
def test_loud_takes_are_turned_down_not_clipped(generator):
    """Takes the decoder makes louder than full scale keep their peaks' shape: a clip at full
    scale left runs of equal samples at the peak (flat tops), which any ceiling only turned down."""
    for seed in (2, 3):
        take = generator.generate(prompt="a metal ball bounces on a stone floor while a machine hums",
                                  duration=8.0, seed=seed, sample_rate=16_000).audio[0, 0]
        peak = float(np.abs(take).max())
        assert peak <= 10 ** (-1.0 / 20) + 1e-6  # the default ceiling, -1 dBTP
        assert int((np.abs(take) >= peak * 0.9999).sum()) <= 2, seed
