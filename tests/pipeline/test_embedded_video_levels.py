"""What users hear from the embedded model on the world's own footage: takes at the clip's level.

One-step samples put single bands up to 30 dB above anything the world sounds like at impacts;
decoded as asked, 11 of 16 takes overshot full scale and the ceiling then turned whole takes down
by up to 39 dB (a clamp at full scale had hidden it by clipping the peaks). The codec's log-mel
ceiling keeps takes at the world's loudness.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfmjt_core.pipeline.generator import Generator


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    from mfmjt_core.synth import make_clip, split_seeds
    from mfmjt_core.synth.export import write_clip

    folder = tmp_path_factory.mktemp("world")
    generator = Generator.load(None)
    out = []
    for i, seed in enumerate(split_seeds("test", 6)):
        clip = make_clip(seed)
        write_clip(clip, folder / f"clip{i}.mp4")
        out.append((clip.audio, generator.generate(video=str(folder / f"clip{i}.mp4"), seed=1)))
    return out


def _rms_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(audio)))), 1e-9)))


@pytest.mark.timeout(300)
def test_takes_are_turned_down_by_a_few_db_at_most(takes):
    gains = [result.levels[0].gain_db for _, result in takes]
    assert min(gains) > -6.0, gains  # without the ceiling: -8 to -39 dB on four of six


@pytest.mark.timeout(300)
def test_takes_come_out_near_the_clips_level(takes):
    differences = [_rms_db(result.audio) - _rms_db(reference) for reference, result in takes]
    assert float(np.median(np.abs(differences))) < 4.0, differences
