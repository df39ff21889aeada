"""Captions name what is heard and seen, and nothing that is not there."""

from __future__ import annotations

import re

import pytest

from mfmjt_core.synth import CAPTION_WORDS, WorldConfig, make_clip
from mfmjt_core.synth.vocab import MATERIAL_ADJECTIVES

SEEDS = range(120)


@pytest.fixture(scope="module")
def clips():
    return [make_clip(s, with_frames=False) for s in SEEDS]


def _has(caption: str, *patterns: str) -> bool:
    return any(re.search(rf"\b{p}\b", caption) for p in patterns)


def test_every_caption_word_is_in_the_vocabulary(clips):
    for clip in clips:
        words = clip.caption.replace(",", " ").split()
        assert set(words) <= CAPTION_WORDS, (clip.seed, set(words) - CAPTION_WORDS)
        assert clip.caption == clip.caption.strip().lower()
        assert len(words) + clip.caption.count(",") <= 70  # fits 77 CLIP tokens (all 1-token words)


def test_each_sounding_object_is_named_with_its_material(clips):
    for clip in clips:
        for e in clip.events:
            info = clip.objects[e.object_id]
            if info.kind in ("ball", "cube"):
                adjective = MATERIAL_ADJECTIVES[info.material]
                assert _has(clip.caption, f"{adjective} {info.kind}s?"), (clip.seed, clip.caption)
            elif info.kind == "lamp":
                assert _has(clip.caption, f"{info.colour} lamp"), clip.caption
            else:
                assert _has(clip.caption, "machines? hums?"), clip.caption


def test_verbs_match_event_kinds_both_ways(clips):
    for clip in clips:
        c, ev = clip.caption, clip.events
        kinds = {e.kind for e in ev}
        floor_hits = {e.object_id for e in ev if e.kind == "impact" and e.surface == "floor"}
        wall_hits = any(e.kind == "impact" and e.surface == "wall" for e in ev)
        checks = {
            "floor impact": (bool(floor_hits), _has(c, "bounces?", "drops?", "falls?")),
            "wall impact": (wall_hits, _has(c, "wall")),
            "collision": ("collision" in kinds, _has(c, "collides?", "knocks into", "hits an?")),
            "slide": ("slide" in kinds, _has(c, "slides?", "rolls?", "scrapes?")),
            "appear": ("appear" in kinds, _has(c, "appears?", "pops?")),
            "flash": ("flash" in kinds, _has(c, "flashes")),
            "tone": ("tone" in kinds, _has(c, "tone")),
            "hum": ("hum" in kinds, _has(c, "hums?")),
        }
        for name, (happens, said) in checks.items():
            assert happens == said, (clip.seed, name, c, ev)
        if floor_hits:
            assert _has(c, f"{MATERIAL_ADJECTIVES[clip.scene.floor_material]} floor"), c


def test_silent_clips_say_so():
    config = WorldConfig(p_silent=1.0, p_balloon=0.0)
    for seed in range(5):
        clip = make_clip(seed, config=config, with_frames=False)
        assert clip.events == ()
        assert _has(clip.caption, "silence", "quiet"), clip.caption


def test_caption_is_deterministic_and_varies():
    assert make_clip(33, with_frames=False).caption == make_clip(33, with_frames=False).caption
    captions = {make_clip(s, with_frames=False).caption for s in range(30)}
    assert len(captions) > 20
