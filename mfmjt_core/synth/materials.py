"""Physical, acoustic and visual properties of each material.

The numbers are chosen so that materials are easy to tell apart both by ear and by eye:
metal rings long and high, glass rings very high and shorter, wood knocks (short, mid),
rubber thuds (very short, low); metal is grey with a highlight, wood brown with stripes, glass
light cyan and translucent, rubber dark red and matte.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Material:
    """One material: how it moves, sounds and looks."""

    name: str
    # Physics
    restitution: float  # fraction of normal speed kept after a bounce
    friction: float  # sliding deceleration, in units of the world's friction scale
    # Modal synthesis: partial k rings at base_hz * ratios[k] * (REFERENCE_SIZE / size)
    base_hz: float
    ratios: tuple[float, ...]
    decays_s: tuple[float, ...]  # exponential time constant of each partial
    gains: tuple[float, ...]
    click: float  # level of the broadband contact transient relative to the partials
    scrape_hz: float  # centre of the band of filtered noise heard when sliding
    scrape_gain: float
    # Looks (RGB 0..255)
    colour: tuple[int, int, int]
    opacity: float = 1.0


# Size (pixels at a 96-pixel-high frame) at which an object rings at its material's base_hz;
# smaller objects ring higher.
REFERENCE_SIZE = 14.0

MATERIAL_TABLE: dict[str, Material] = {
    "wood": Material(
        name="wood",
        restitution=0.5,
        friction=0.55,
        base_hz=430.0,
        ratios=(1.0, 2.31, 3.92, 5.6),
        decays_s=(0.06, 0.04, 0.028, 0.018),
        gains=(1.0, 0.55, 0.3, 0.15),
        click=0.6,
        scrape_hz=900.0,
        scrape_gain=0.5,
        colour=(150, 95, 45),
    ),
    "metal": Material(
        name="metal",
        restitution=0.6,
        friction=0.3,
        base_hz=950.0,
        ratios=(1.0, 2.756, 5.404, 8.933),
        decays_s=(0.35, 0.25, 0.16, 0.1),
        gains=(1.0, 0.7, 0.45, 0.3),
        click=0.35,
        scrape_hz=3200.0,
        scrape_gain=0.45,
        colour=(160, 165, 172),
    ),
    "glass": Material(
        name="glass",
        restitution=0.42,
        friction=0.25,
        base_hz=1900.0,
        ratios=(1.0, 2.32, 3.27, 4.25),
        decays_s=(0.18, 0.12, 0.08, 0.05),
        gains=(1.0, 0.6, 0.45, 0.3),
        click=0.4,
        scrape_hz=4800.0,
        scrape_gain=0.35,
        colour=(165, 235, 240),
        opacity=0.6,
    ),
    "rubber": Material(
        name="rubber",
        restitution=0.78,
        friction=0.9,
        base_hz=150.0,
        ratios=(1.0, 1.58, 2.26),
        decays_s=(0.035, 0.022, 0.014),
        gains=(1.0, 0.4, 0.2),
        click=0.4,
        scrape_hz=350.0,
        scrape_gain=0.7,
        colour=(125, 22, 30),
    ),
    # Floor only: a dull, short knock.
    "stone": Material(
        name="stone",
        restitution=0.5,
        friction=0.6,
        base_hz=600.0,
        ratios=(1.0, 1.83, 2.95, 4.3),
        decays_s=(0.025, 0.018, 0.012, 0.008),
        gains=(1.0, 0.6, 0.4, 0.25),
        click=0.6,
        scrape_hz=1500.0,
        scrape_gain=0.5,
        colour=(128, 126, 120),
    ),
}


def material(name: str) -> Material:
    """The `Material` called `name` (a KeyError names the known ones)."""
    try:
        return MATERIAL_TABLE[name]
    except KeyError:
        raise KeyError(f"unknown material {name!r}; known: {sorted(MATERIAL_TABLE)}") from None
