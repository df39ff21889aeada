"""The words of the synthetic world: materials, shapes, event kinds and caption vocabulary.

Kept in one dependency-free module so a text encoder or an evaluator can use the vocabulary
without importing the generator.
"""

from __future__ import annotations

# Materials of the objects that make impact sounds (heard in timbre, seen in colour/texture).
MATERIALS: tuple[str, ...] = ("wood", "metal", "glass", "rubber")
# Floors add a little of their own resonance to floor impacts and appear in captions.
FLOOR_MATERIALS: tuple[str, ...] = ("wood", "stone", "metal")

# Objects that move and collide.
SHAPES: tuple[str, ...] = ("ball", "cube")
# Fixtures on the back wall: a machine hums while visible, a lamp beeps while lit.
# A balloon drifts through the air and never makes a sound (a distractor).
FIXTURES: tuple[str, ...] = ("machine", "lamp", "balloon")
OBJECT_KINDS: tuple[str, ...] = SHAPES + FIXTURES

# Lamp colours; each one has its own pitch (see sound.LAMP_PITCH_HZ).
LAMP_COLOURS: tuple[str, ...] = ("red", "green", "blue")
BALLOON_COLOURS: tuple[str, ...] = ("yellow", "pink", "green")

# Sound events. Transient: impact (floor or wall), collision (two objects), appear (an object
# pops into view), flash (a lamp lights briefly). Sustained, with a duration: slide (scrape or
# roll along the floor), tone (a lamp stays lit), hum (a machine is visible and running).
EVENT_KINDS: tuple[str, ...] = ("impact", "collision", "slide", "appear", "flash", "tone", "hum")
TRANSIENT_KINDS: tuple[str, ...] = ("impact", "collision", "appear", "flash")
SUSTAINED_KINDS: tuple[str, ...] = ("slide", "tone", "hum")

# Adjectives used in captions for each material name.
MATERIAL_ADJECTIVES: dict[str, str] = {
    "wood": "wooden",
    "metal": "metal",
    "glass": "glass",
    "rubber": "rubber",
    "stone": "stone",
}

NUMBER_WORDS: tuple[str, ...] = ("no", "a", "two", "three", "four", "five", "six")

# Every word a caption can contain (lower case, no punctuation), for tokenizer checks and for
# building small text vocabularies.
CAPTION_WORDS: frozenset[str] = frozenset(
    """
    a two three four five six and while as with in on onto into across along against
    the floor wall each other silence quiet empty room nothing happens
    ball balls cube cubes machine machines lamp lamps balloon balloons
    wooden metal glass rubber stone red green blue yellow pink
    bounces bounce drops drop falls fall hits hit knocks knock collides collide
    slides slide scrapes scrape rolls roll appears appear pops pop up view
    flashes twice times several beep glows steady tone hums hum drifts by silently
    """.split()
)
