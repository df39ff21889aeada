"""Prompts phrased the way users type them, built from the same clip facts as the captions.

The templates in `captions.py` write whole sentences ("a metal ball bounces on a stone floor");
users type "metal ball bouncing", "bouncing ball, humming machine" or "sfx glass cube slide".
A model trained only on the templates has never seen "bouncing", and a small text encoder
turns such unseen words into features the network never learned to read (measured: the
prompt "metal ball bouncing" came out 50-70 dB below full scale, "a metal ball bounces" at
full scale). So training mixes in (`PromptMix`):

- user prompts: each sounding object as noun + gerund, past tense or bare verb, in any order,
  with or without material, count and floor, sometimes naming only some of the objects;
- filler: words users add that name no sound ("cinematic", "the sound of", made-up words);
- foreign prompts: only such words, whose answer is then the world's sound at large, the way
  a dropped caption is. Made-up words cover token ids no list would reach, so a prompt from
  outside the world ("dog barking") is read as "no information", not as "silence".

Everything is drawn from the generator passed in; the same seed gives the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfmjt_core.synth.captions import sounding_groups
from mfmjt_core.synth.scene import ObjectInfo, ScenePlan, SoundEvent
from mfmjt_core.synth.vocab import MATERIAL_ADJECTIVES, NUMBER_WORDS

# verb key -> (gerund, past, bare) phrasings; one is picked per prompt.
_FORMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "appear": (("appearing", "appeared", "appear"), ("popping up", "popped up", "pop up")),
    "bounce": (("bouncing", "bounced", "bounce"),),
    "drop": (("dropping", "dropped", "drop"), ("falling", "fell", "fall"), ("landing", "landed", "land")),
    "roll": (("rolling", "rolled", "roll"),),
    "slide": (("sliding", "slid", "slide"), ("scraping", "scraped", "scrape")),
    "wall": (("hitting the wall", "hit the wall", "wall hit"), ("knocking", "knocked", "knock")),
}
_COLLIDE = (("colliding", "collided", "collision"), ("clashing", "clashed", "clash"))
_MACHINE = ("machine humming", "humming machine", "machine hum", "machine hummed", "hum", "motor humming")
_LAMP_FLASH = ("lamp beeping", "beeping lamp", "beep", "beeps", "lamp beeped", "flashing lamp beeping")
_LAMP_TONE = ("lamp tone", "steady tone", "glowing lamp tone", "tone", "pure tone")
_SILENT = ("silence", "quiet room", "no sound", "room tone", "empty room", "nothing")
# Words that name no sound of the world; users add them, the model should let them pass.
FILLER: tuple[str, ...] = (
    "the sound of", "sound of", "sound effect", "sfx", "foley", "cinematic", "realistic", "loud",
    "soft", "closeup", "high quality", "recording", "audio", "indoors", "hd", "clean",
    "stereo", "short", "clip", "scene", "video", "footage", "please", "make", "epic",
)
_SYLLABLES = ("ka", "zu", "mor", "pli", "ven", "tox", "gra", "shi", "lum", "bek", "quo", "dra",
              "fen", "yil", "osk", "tre", "nub", "jax", "wim", "col", "rha", "ux", "pe", "sor")


@dataclass(frozen=True)
class PromptMix:
    """The share of training rows whose caption is replaced (the rest keep the template).

    `user`: a user-style prompt; `filler`: a user-style prompt with filler words added;
    `foreign`: filler and made-up words only.
    """

    user: float = 0.35
    filler: float = 0.1
    foreign: float = 0.05

    def __post_init__(self) -> None:
        shares = (self.user, self.filler, self.foreign)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"prompt shares must be >= 0 and sum to <= 1, got {shares}")


TEMPLATES_ONLY = PromptMix(0.0, 0.0, 0.0)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _object_phrase(info: ObjectInfo, count: int, verbs: tuple[str, ...], floor: str,
                   rng: np.random.Generator) -> str:
    noun = info.kind + ("s" if count > 1 else "")
    words = []
    if rng.random() < 0.25:
        words.append(NUMBER_WORDS[min(count, len(NUMBER_WORDS) - 1)])
    if rng.random() < 0.85:
        words.append(MATERIAL_ADJECTIVES[info.material])
    words.append(noun)
    tense = int(rng.choice(3, p=(0.6, 0.2, 0.2)))
    actions = [_pick(rng, _FORMS[key])[tense] for key in verbs if rng.random() < 0.8 or key == verbs[0]]
    if tense == 0 and len(actions) == 1 and rng.random() < 0.3:  # "bouncing metal ball"
        return " ".join([actions[0]] + words)
    phrase = " ".join(words + [" and ".join(actions)])
    if rng.random() < 0.3 and any(k in ("bounce", "drop", "roll", "slide") for k in verbs):
        phrase += _pick(rng, (" on ", " on a ")) + f"{floor} floor"
    return phrase


def user_prompt(plan: ScenePlan, events: tuple[SoundEvent, ...], rng: np.random.Generator) -> str:
    """A short prompt in a user's words for the clip's sounds (all of them, sometimes some)."""
    infos = {b.info.object_id: b.info for b in plan.bodies}
    floor = MATERIAL_ADJECTIVES[plan.floor_material]
    phrases = [_object_phrase(infos[oids[0]], len(oids), verbs, floor, rng)
               for (_, _, verbs), oids in sounding_groups(plan, events).items()]
    pairs = {(e.object_id, e.other_id) for e in events if e.kind == "collision"}
    if pairs:
        a, b = min(pairs)
        form = _pick(rng, _COLLIDE)[int(rng.integers(3))]
        ka, kb = infos[a].kind, infos[b].kind
        both = f"{ka}s" if ka == kb else f"{ka} and {kb}"
        named = (f"{MATERIAL_ADJECTIVES[infos[a].material]} {ka} and "
                 f"{MATERIAL_ADJECTIVES[infos[b].material]} {kb}")
        phrases.append(_pick(rng, (f"{both} {form}", f"{named} {form}", form)))
    sounding = {e.object_id for e in events}
    for fx in plan.fixtures:
        if fx.info.object_id not in sounding:
            continue
        if fx.info.kind == "machine":
            phrases.append(_pick(rng, _MACHINE))
        elif fx.info.kind == "lamp":
            phrase = _pick(rng, _LAMP_TONE if fx.info.behaviour == "tone" else _LAMP_FLASH)
            phrases.append(f"{fx.info.colour} {phrase}" if rng.random() < 0.4 else phrase)
    if not phrases:
        return _pick(rng, _SILENT)
    order = rng.permutation(len(phrases))
    if len(phrases) > 1 and rng.random() < 0.2:  # users often name only the sound they care about
        order = order[: int(rng.integers(1, len(phrases)))]
    return _pick(rng, (", ", " and ", " with ", ", ")).join(phrases[i] for i in order)


def made_up_word(rng: np.random.Generator) -> str:
    return "".join(_pick(rng, _SYLLABLES) for _ in range(int(rng.integers(1, 4))))


def with_filler(prompt: str, rng: np.random.Generator) -> str:
    """`prompt` with one or two filler or made-up words before and/or after it."""
    def word() -> str:
        return made_up_word(rng) if rng.random() < 0.4 else _pick(rng, FILLER)

    before = [word() for _ in range(int(rng.integers(0, 3)))]
    after = [word() for _ in range(int(rng.integers(0 if before else 1, 3)))]
    return " ".join(before + [prompt] + after)


def foreign_prompt(rng: np.random.Generator) -> str:
    """Words that say nothing about the world's sounds: filler and made-up words."""
    return " ".join(made_up_word(rng) if rng.random() < 0.6 else _pick(rng, FILLER)
                    for _ in range(int(rng.integers(1, 5))))


def training_prompt(caption: str, plan: ScenePlan, events: tuple[SoundEvent, ...], mix: PromptMix,
                    rng: np.random.Generator) -> str:
    """The text a training row is conditioned on: the template caption or, by `mix`, another."""
    u = rng.random()
    if u < mix.user:
        return user_prompt(plan, events, rng)
    if u < mix.user + mix.filler:
        return with_filler(user_prompt(plan, events, rng), rng)
    if u < mix.user + mix.filler + mix.foreign:
        return foreign_prompt(rng)
    return caption
