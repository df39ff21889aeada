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
