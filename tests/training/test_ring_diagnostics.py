"""scripts/ring_diagnostics.py: the caption edits it makes, the clips it picks, and a run on the
packaged model that keeps a clip's own ring when little noise is added (so the noising, the
integration back and the impact times line up)."""

from __future__ import annotations

import pytest

from tests.script_loading import load_script


def _load():
    return load_script("ring_diagnostics")


def test_the_material_word_is_swapped_as_a_whole_word():
    module = _load()
    assert module.swap_material("two wooden balls bounce on a stone floor", "wood") == \
        "two metal balls bounce on a stone floor"
    assert module.swap_material("a metal cube slides", "metal") == "a glass cube slides"
    assert module.next_material("rubber") == "wood"
    assert module.names_only("a glass ball bounces", "glass")
    assert not module.names_only("a glass ball and a metal cube", "glass")
    assert not module.names_only("a ball bounces", "glass")


def test_the_clips_have_one_impact_material_and_their_caption_names_it_alone():
    module = _load()
    clips = module.ring_clips(3, search=120)
    assert len(clips) == 3
    for clip in clips:
        material = module.impact_material(clip)
        assert material and module.names_only(clip.caption, material)
        assert any(e.kind == "impact" for e in clip.events)


@pytest.mark.timeout(300)
def test_little_noise_keeps_each_clips_own_ring(tmp_path):
    import json

    from mfmjt_core.evaluation.material_classifier import fit_on_world

    module = _load()
    out = module.diagnose(None, 3, [0.2], fit_on_world(120))
    rows = {r["condition"]: r for r in out["rows"]}
    assert set(rows) == set(module.CONDITIONS) and out["clips"] == 3
    for r in rows.values():
        assert r["impacts"] > 0
        assert r["heard_as_clip_material"] >= 0.75, r
        assert r["rms_to_reference"] < r["noised_rms_to_reference"], r
    assert set(out["caption_effect"]) == set(out["caption_effect_beside_neutral_picture"]) == {"0.2"}
    json.dumps(out)  # the --json output is plain data


def test_the_packaged_text_encoder_carries_the_captions_material():
    result = _load().material_from_pooled_text(None, train=600, val=240)
    assert result["captions_train"] > 60 and result["captions_val"] > 20
    assert result["material_from_pooled_text_accuracy"] > 0.5  # chance is about 0.25


@pytest.mark.timeout(300)
def test_one_jump_from_pure_noise_follows_the_picture():
    """t0 = 1 is the one-step sample from pure noise: the clip's own picture brings it nearest
    the reference, the neutral picture (its instants, not its looks) next, text alone least."""
    from mfmjt_core.evaluation.material_classifier import fit_on_world

    out = _load().diagnose(None, 3, [1.0], fit_on_world(120))
    rms = {r["condition"]: r["rms_to_reference"] for r in out["rows"]}
    (noise_rms,) = {r["noised_rms_to_reference"] for r in out["rows"]}  # every row starts from the noise
    assert max(rms.values()) < noise_rms
    assert rms["video + caption"] < rms["neutral picture"] < rms["no caption"]
    assert set(out["caption_effect"]) == {"1.0"}
