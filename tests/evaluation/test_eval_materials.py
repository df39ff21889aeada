"""The impact-material classifier: fitted on train clips only, accurate on reference test audio."""

from __future__ import annotations

import numpy as np
import pytest

from mfmjt_core.evaluation.material_classifier import (
    N_FEATURES,
    MaterialClassifier,
    clip_impact_features,
    fit_classifier,
    fit_on_world,
    impacts_of,
)


@pytest.fixture(scope="module")
def classifier():
    return fit_on_world(120, split="train")


def test_reference_test_impacts_are_mostly_classified_right(classifier, test_clips):
    correct = total = 0
    for clip in test_clips:
        impacts = impacts_of(clip.events)
        predicted = classifier.predict(clip_impact_features(clip.audio, [t for t, _ in impacts]))
        correct += sum(p == m for p, (_, m) in zip(predicted, impacts))
        total += len(impacts)
    assert total >= 20
    assert correct / total > 0.7  # 4 materials: chance is 0.25


def test_never_fitted_on_test_clips():
    with pytest.raises(ValueError):
        fit_on_world(4, split="test")


def test_round_trip_through_json(classifier, tmp_path, test_clips):
    loaded = MaterialClassifier.load(classifier.save(tmp_path / "clf.json"))
    feats = clip_impact_features(test_clips[1].audio, [1.0, 2.0, 3.0])
    assert feats.shape == (3, N_FEATURES)
    assert loaded.predict(feats) == classifier.predict(feats)
    assert loaded.info["split"] == "train" and loaded.info["clips"] == 120


def test_separable_toy_data_is_learnt():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 3)) + [4, 0, 0]
    b = rng.standard_normal((50, 3)) - [4, 0, 0]
    clf = fit_classifier(np.concatenate([a, b]), ["a"] * 50 + ["b"] * 50)
    assert clf.predict(np.array([[5.0, 0, 0], [-5.0, 1, 0]])) == ["a", "b"]
    assert clf.predict(np.zeros((0, 3))) == []
