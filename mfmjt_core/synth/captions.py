"""Captions from templates, built from the events that actually happen in a clip.

Every object that makes a sound is named with its material and shape and what it does
("two metal balls bounce on a stone floor, a glass cube slides across the floor while a
machine hums"); silent objects are left out or, for balloons, said to drift by silently.
Word choice among synonyms is drawn from the clip's caption generator.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from mfmjt_core.synth.scene import ObjectInfo, ScenePlan, SoundEvent
from mfmjt_core.synth.vocab import MATERIAL_ADJECTIVES, NUMBER_WORDS

# verb key -> (singular, plural) phrasings; one is picked per caption. The first one is the
# shortest, used when a caption would get too long for a 77-token text encoder.
_VERBS: dict[str, tuple[tuple[str, str], ...]] = {
    "appear": (("appears", "appear"), ("pops into view", "pop into view"), ("pops up", "pop up")),
    "bounce": (("bounces", "bounce"),),
    "drop": (("drops", "drop"), ("drops onto the floor", "drop onto the floor"),
             ("falls onto the floor", "fall onto the floor")),
    "roll": (("rolls", "roll"), ("rolls across the floor", "roll across the floor")),
    "slide": (("slides", "slide"), ("slides across the floor", "slide across the floor"),
              ("scrapes along the floor", "scrape along the floor")),
    "wall": (("hits the wall", "hit the wall"),
             ("knocks against the wall", "knock against the wall")),
}
MAX_CAPTION_WORDS = 42  # longer captions are rebuilt short, to stay well under 77 CLIP tokens
_SILENT = ("silence", "a quiet empty room", "nothing happens in a quiet room")


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _noun(info: ObjectInfo, count: int = 1) -> str:
    name = info.kind + ("s" if count > 1 else "")
    words = [NUMBER_WORDS[min(count, len(NUMBER_WORDS) - 1)]]
    if info.material:
        words.append(MATERIAL_ADJECTIVES[info.material])
    elif info.colour:
        words.append(info.colour)
    return " ".join(words + [name])


def _body_verbs(events: list[SoundEvent], info: ObjectInfo) -> tuple[str, ...]:
    """What a body audibly does, in order of first occurrence."""
    keys: list[str] = []
    floor_hits = sum(e.kind == "impact" and e.surface == "floor" for e in events)
    for e in events:
        if e.kind == "appear":
            key = "appear"
        elif e.kind == "impact" and e.surface == "floor":
            key = "bounce" if floor_hits > 1 else "drop"
        elif e.kind == "impact":
            key = "wall"
        elif e.kind == "slide":
            key = "roll" if info.kind == "ball" else "slide"
        else:
            continue
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _events_by_object(events: tuple[SoundEvent, ...]) -> dict[int, list[SoundEvent]]:
    by_object: dict[int, list[SoundEvent]] = {}
    for e in events:
        by_object.setdefault(e.object_id, []).append(e)
    return by_object


def sounding_groups(plan: ScenePlan, events: tuple[SoundEvent, ...]) -> dict[tuple, list[int]]:
    """(material, kind, verb keys) -> ids of the bodies that do exactly that, in order of first
    sound: bodies with the same material, shape and actions are named together."""
    by_object = _events_by_object(events)
    infos = {b.info.object_id: b.info for b in plan.bodies}
    groups: dict[tuple, list[int]] = {}
    for oid in sorted(by_object, key=lambda o: by_object[o][0].frame):
        if oid in infos:
            verbs = _body_verbs(by_object[oid], infos[oid])
            if verbs:
                groups.setdefault((infos[oid].material, infos[oid].kind, verbs), []).append(oid)
    return groups


def _lamp_clause(info: ObjectInfo, events: list[SoundEvent]) -> str:
    noun = _noun(info)
    if info.behaviour == "tone":
        return f"{noun} glows with a steady tone"
    times = {1: "", 2: " twice", 3: " three times"}.get(len(events), " several times")
    return f"{noun} flashes{times} with a beep"


def make_caption(plan: ScenePlan, events: tuple[SoundEvent, ...], rng: np.random.Generator) -> str:
    """A caption naming every sounding object, its material and what it does."""
    text = _build(plan, events, rng, short=False)
    if len(text.split()) > MAX_CAPTION_WORDS:
        text = _build(plan, events, rng, short=True)
    return text


def _build(plan: ScenePlan, events: tuple[SoundEvent, ...], rng: np.random.Generator,
           short: bool) -> str:
    by_object = _events_by_object(events)
    infos = {b.info.object_id: b.info for b in plan.bodies}
    clauses: list[str] = []
    floor_named = False
    for (_, _, verbs), oids in sounding_groups(plan, events).items():
        plural = len(oids) > 1
        phrases = []
        for key in verbs:
            options = _VERBS[key][:1] if short else _VERBS[key]
            phrase = _pick(rng, options)[1 if plural else 0]
            if key == "bounce" and not floor_named:
                phrase += f" on a {_floor_adjective(plan)} floor"
                floor_named = True
            elif "the floor" in phrase and not floor_named:
                phrase = phrase.replace("the floor", f"the {_floor_adjective(plan)} floor")
                floor_named = True
            phrases.append(phrase)
        clauses.append(f"{_noun(infos[oids[0]], len(oids))} {' and '.join(phrases)}")
    clauses += _collision_clauses(events, infos, rng)
    for fx in plan.fixtures:
        if fx.info.kind == "lamp" and fx.info.object_id in by_object:
            clauses.append(_lamp_clause(fx.info, by_object[fx.info.object_id]))
    text = _join(clauses)
    hums = sum(fx.info.kind == "machine" and fx.info.object_id in by_object for fx in plan.fixtures)
    if hums:
        machine = "a machine hums" if hums == 1 else f"{NUMBER_WORDS[hums]} machines hum"
        text = f"{text} while {machine}" if text else machine
    if not text:
        text = _pick(rng, _SILENT)
    if plan.balloons and rng.random() < 0.5 and not short:
        balloon = _noun(plan.balloons[0].info)
        text = f"{text} as {balloon} drifts by silently"
    return text


def _collision_clauses(events: tuple[SoundEvent, ...], infos: dict[int, ObjectInfo],
                       rng: np.random.Generator) -> list[str]:
    """One pair: "a metal ball hits a glass cube"; more: "a metal ball, ... and ... collide"."""
    pairs = list(dict.fromkeys((e.object_id, e.other_id) for e in events if e.kind == "collision"))
    if not pairs:
        return []
    if len(pairs) == 1:
        a, b = pairs[0]
        verb = _pick(rng, ("hits", "knocks into", "collides with"))
        return [f"{_noun(infos[a])} {verb} {_noun(infos[b])}"]
    involved = list(dict.fromkeys(o for pair in pairs for o in pair))
    counts = Counter((infos[o].material, infos[o].kind) for o in involved)
    firsts = {}
    for o in involved:
        firsts.setdefault((infos[o].material, infos[o].kind), infos[o])
    nouns = [_noun(firsts[key], n) for key, n in counts.items()]
    if len(nouns) == 1:
        return [f"{nouns[0]} collide with each other"]
    return [f"{_join(nouns)} collide"]


def _floor_adjective(plan: ScenePlan) -> str:
    return MATERIAL_ADJECTIVES[plan.floor_material]
