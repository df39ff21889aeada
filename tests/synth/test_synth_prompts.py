"""User-style prompts name the clip's sounds in a user's words, and nothing that is not heard."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mfmjt_core.synth import make_clip
from mfmjt_core.synth import prompts as P
from mfmjt_core.synth.vocab import CAPTION_WORDS, MATERIAL_ADJECTIVES

SEEDS = range(80)


@pytest.fixture(scope="module")
def clips():
    return [make_clip(s, with_frames=False) for s in SEEDS]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_prompts_name_only_what_is_heard(clips):
    for clip in clips:
        sounding = {e.object_id for e in clip.events}
        heard_materials = {MATERIAL_ADJECTIVES[o.material] for o in clip.objects if o.object_id in sounding
                           and o.material} | {MATERIAL_ADJECTIVES[clip.scene.floor_material]}
        heard_kinds = {o.kind for o in clip.objects if o.object_id in sounding}
        for k in range(5):
            prompt = P.user_prompt(clip.scene, clip.events, _rng(clip.seed * 10 + k))
            words = set(re.findall(r"[a-z]+", prompt))
            named = words & set(MATERIAL_ADJECTIVES.values())
            assert named <= heard_materials, (clip.seed, prompt)
            for kind in ("ball", "cube", "machine", "lamp", "balloon"):
                if kind in words or kind + "s" in words:
                    assert kind in heard_kinds, (clip.seed, prompt)
            if not sounding:
                assert prompt in P._SILENT


def test_prompts_use_forms_the_templates_never_do(clips):
    prompts = [P.user_prompt(c.scene, c.events, _rng(c.seed)) for c in clips]
    words = {w for p in prompts for w in re.findall(r"[a-z]+", p)}
    new = words - CAPTION_WORDS
    assert {"bouncing", "rolling", "humming"} <= new, sorted(new)
    assert any(p.startswith(("bouncing", "rolling", "sliding", "falling")) for p in prompts)  # word order varies


def test_a_named_ball_that_bounces_is_said_to_bounce():
    for seed in SEEDS:
        clip = make_clip(seed, with_frames=False)
        bouncers = [o for o in clip.objects if o.kind == "ball" and sum(
            e.object_id == o.object_id and e.kind == "impact" and e.surface == "floor" for e in clip.events) > 1]
        if len(bouncers) == 1 and len({e.object_id for e in clip.events}) == 1:
            prompt = P.user_prompt(clip.scene, clip.events, _rng(0))
            assert re.search(r"bounc|bounce", prompt), prompt
            return
    pytest.fail("no clip with one bouncing ball in the seeds")


def test_same_generator_state_same_prompt(clips):
    clip = clips[3]
    assert P.user_prompt(clip.scene, clip.events, _rng(7)) == P.user_prompt(clip.scene, clip.events, _rng(7))
    assert P.foreign_prompt(_rng(7)) == P.foreign_prompt(_rng(7))


def test_filler_keeps_the_prompt_and_foreign_names_no_sound(clips):
    clip = clips[0]
    for k in range(30):
        base = P.user_prompt(clip.scene, clip.events, _rng(k))
        assert base in P.with_filler(base, _rng(k + 100))
        foreign = set(P.foreign_prompt(_rng(k)).split())
        assert not foreign & (CAPTION_WORDS - {"a", "in", "the", "of"}), foreign


def test_training_prompt_follows_the_mix(clips):
    clip = clips[5]
    mix = P.PromptMix(user=0.5, filler=0.2, foreign=0.1)
    texts = [P.training_prompt(clip.caption, clip.scene, clip.events, mix, _rng(k)) for k in range(400)]
    template = sum(t == clip.caption for t in texts) / len(texts)
    assert 0.12 < template < 0.28  # 0.2 expected
    only = [P.training_prompt(clip.caption, clip.scene, clip.events, P.TEMPLATES_ONLY, _rng(k)) for k in range(20)]
    assert set(only) == {clip.caption}


@pytest.mark.parametrize("shares", [(-0.1, 0, 0), (0.6, 0.3, 0.2)])
def test_bad_mix_is_refused(shares):
    with pytest.raises(ValueError, match="prompt shares"):
        P.PromptMix(*shares)


def test_world_words_fold_onto_distinct_ids_of_the_tiny_vocabulary():
    """The tiny text encoder folds CLIP's BPE ids modulo its vocabulary: two words of the world
    (templates or user prompts) that shared a row would be one word to the model."""
    open_clip = pytest.importorskip("open_clip")
    from mfmjt_core.encoders.small import CLIP_MODEL_NAME
    from mfmjt_core.training.recipes import tiny_synth_spec

    vocab = tiny_synth_spec().encoders.config.vocab_size
    words = set(CAPTION_WORDS)
    for forms in [*P._FORMS.values(), P._COLLIDE]:
        for form in forms:
            words |= {w for phrase in form for w in phrase.split()}
    for phrase in P._MACHINE + P._LAMP_FLASH + P._LAMP_TONE + P._SILENT + P.FILLER:
        words |= set(phrase.split())
    tokenizer = open_clip.get_tokenizer(CLIP_MODEL_NAME)
    ids = {int(t) for t in tokenizer(sorted(words)).flatten()} - {0, 49406, 49407}
    assert len({i % vocab for i in ids}) == len(ids)
