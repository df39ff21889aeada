"""What is in a clip: geometry, objects, their behaviours and schedules, sampled from a seed.

`sample_scene` draws a `ScenePlan`; `physics.simulate` turns it into tracks and sound events.
All lengths are pixels and all times are frame indices; `Geometry.unit` scales pixel sizes so a
128-pixel world looks like a 96-pixel one.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from mfmjt_core.synth.vocab import BALLOON_COLOURS, FLOOR_MATERIALS, LAMP_COLOURS, SHAPES

if TYPE_CHECKING:
    from mfmjt_core.synth.world_config import WorldConfig

WALL_COLOURS: tuple[tuple[int, int, int], ...] = (
    (222, 212, 192),  # beige
    (206, 206, 200),  # light grey
    (208, 220, 198),  # pale green
    (228, 206, 198),  # pale pink
)
BALLOON_RGB: dict[str, tuple[int, int, int]] = {
    "yellow": (245, 215, 40),
    "pink": (240, 120, 200),
    "green": (120, 220, 60),
}
LAMP_RGB: dict[str, tuple[int, int, int]] = {
    "red": (255, 60, 50),
    "green": (60, 235, 80),
    "blue": (70, 120, 255),
}
# Machines come in three sizes (width, height at unit 1); bigger ones hum lower.
MACHINE_SIZES: tuple[tuple[int, int], ...] = ((16, 12), (22, 15), (28, 19))
HUM_HZ: tuple[float, ...] = (150.0, 105.0, 75.0)
# Each lamp colour beeps at its own pitch, so the picture fixes the pitch.
LAMP_PITCH_HZ: dict[str, float] = {"red": 440.0, "green": 660.0, "blue": 990.0}


@dataclass(frozen=True)
class SoundEvent:
    """A ground-truth sound event. `time_s` is the time of `frame`, where it is also visible."""

    time_s: float
    kind: str  # one of vocab.EVENT_KINDS
    object_id: int
    material: str  # the object's material ("" for fixtures)
    strength: float = 1.0  # 0..1: impact speed over the reference speed, or source level
    duration_s: float = 0.0  # sustained kinds only
    frame: int = 0
    surface: str = ""  # impact: "floor" or "wall"; collision: the other object's material
    other_id: int = -1  # collision: the other object


@dataclass(frozen=True)
class ObjectInfo:
    """Description of one object of a clip."""

    object_id: int
    kind: str  # one of vocab.OBJECT_KINDS
    material: str  # balls and cubes; "" for fixtures
    size_px: int  # diameter, side, or machine width
    behaviour: str  # drop | slide | rest | hum | flash | tone | drift
    appear_frame: int  # first visible frame; > 0 means it pops into view (with a sound)
    colour: str = ""  # lamps and balloons
    pitch_hz: float = 0.0  # machines: hum fundamental; lamps: beep pitch
    pulse_hz: float = 0.0  # machines: the rate its light pulses and its hum throbs


@dataclass(frozen=True)
class Geometry:
    """Where floor and walls are, in pixels; `unit` = height / 96."""

    height: int
    width: int
    floor_y: int  # first floor row; an object touches the floor when its bottom row is floor_y-1
    wall_left: int  # first free column
    wall_right: int  # one past the last free column
    unit: float


@dataclass(frozen=True)
class BodyPlan:
    """A ball or cube: where it starts and what sets it moving."""

    info: ObjectInfo
    x: float
    y: float
    vx: float  # initial horizontal speed for drops
    release_frame: int  # drops: the frame it starts to fall (silently)
    push_frame: int  # slides: the frame it is pushed (-1: never)
    push_vx: float


@dataclass(frozen=True)
class FixturePlan:
    """A machine or lamp on the back wall with the frame intervals [on, off) it is active."""

    info: ObjectInfo
    x: float
    y: float
    intervals: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class BalloonPlan:
    """A silent balloon drifting along x = x0 + vx t, y = y0 + amp sin(2 pi f t + phase)."""

    info: ObjectInfo
    colour_rgb: tuple[int, int, int]
    x0: float
    vx: float
    y0: float
    amp: float
    freq_hz: float
    phase: float


@dataclass(frozen=True)
class ScenePlan:
    """Everything needed to simulate, render and sonify one clip."""

    geometry: Geometry
    fps: Fraction
    n_frames: int
    floor_material: str
    wall_rgb: tuple[int, int, int]
    # Silent background change: wall brightness *= 1 + amp * sin(2 pi t / period + phase)
    background_amp: float
    background_period_s: float
    background_phase: float
    bodies: tuple[BodyPlan, ...]
    fixtures: tuple[FixturePlan, ...]
    balloons: tuple[BalloonPlan, ...]

    def time_of(self, frame: int) -> float:
        """Seconds at which `frame` is shown."""
        return float(Fraction(frame) / self.fps)


def machine_pulse(seconds: np.ndarray, pulse_hz: float) -> np.ndarray:
    """Brightness of a machine's light, 0..1, `seconds` after it switched on; its hum throbs
    with the same curve, so the picture shows the rhythm of the sound."""
    return 0.5 + 0.5 * np.cos(2 * np.pi * pulse_hz * seconds)


def count_frames(duration_s: float, fps: Fraction) -> int:
    """Frames shown in `duration_s` seconds: frame k is shown at k / fps < duration."""
    return int(np.ceil(float(Fraction(duration_s).limit_denominator(10_000) * fps) - 1e-9))


@dataclass(frozen=True)
class _Clock:
    fps: Fraction
    n_frames: int

    def frame(self, seconds: float) -> int:
        """The first frame at or after `seconds`, clamped to the clip."""
        return min(max(count_frames(seconds, self.fps), 0), self.n_frames - 1)

    def frames(self, seconds: float) -> int:
        """A duration in whole frames (unclamped, at least 1)."""
        return max(1, round(seconds * float(self.fps)))


def make_geometry(height: int, width: int) -> Geometry:
    """Floor along the bottom fifth, thin walls left and right."""
    unit = height / 96.0
    wall = max(2, round(3 * unit))
    return Geometry(height, width, round(0.8 * height), wall, width - wall, unit)


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform in [lo, hi); collapses to lo when a short clip leaves no room."""
    return float(rng.uniform(lo, max(lo, hi)))


def _free_x(rng: np.random.Generator, geo: Geometry, half: float,
            taken: list[tuple[float, float]]) -> float | None:
    """A centre x between the walls whose [x-half, x+half], plus a margin, overlaps no taken
    interval (then marked taken); None after 20 tries."""
    margin = 6 * geo.unit
    for _ in range(20):
        x = _uniform(rng, geo.wall_left + half + 2, geo.wall_right - half - 2)
        if all(x + half + margin < a or x - half - margin > b for a, b in taken):
            taken.append((x - half, x + half))
            return x
    return None


def _sample_bodies(rng: np.random.Generator, config: WorldConfig, clock: _Clock, geo: Geometry,
                   n: int, silent: bool) -> list[BodyPlan]:
    duration = config.duration_s
    u = geo.unit
    weights = np.array([config.p_drop, config.p_slide, config.p_rest], dtype=float)
    taken: list[tuple[float, float]] = []
    bodies: list[BodyPlan] = []
    for _ in range(n):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        mat = config.materials[int(rng.integers(len(config.materials)))]
        size = int(rng.integers(round(10 * u), round(20 * u) + 1))
        behaviour = "rest" if silent else str(
            rng.choice(("drop", "slide", "rest"), p=weights / weights.sum()))
        appears = (not silent) and rng.random() < config.p_appear
        x = _free_x(rng, geo, size / 2, taken)
        if x is None:
            continue
        appear = release = 0
        push, push_vx, vx = -1, 0.0, 0.0
        y = geo.floor_y - size / 2
        if behaviour == "drop":
            y = _uniform(rng, 0.1 * geo.height + size / 2, 0.45 * geo.height)
            if rng.random() >= 0.6:
                vx = float(rng.choice((-1, 1))) * _uniform(rng, 10, 35) * u
            if appears:  # pops into view in mid-air and falls at once
                appear = release = clock.frame(_uniform(rng, 0.3, duration - 2.5))
            else:  # hangs still from the start, then falls
                release = max(1, clock.frame(_uniform(rng, 0.15, duration - 3.0)))
        elif appears:
            appear = clock.frame(_uniform(rng, 0.3, duration - 3.0))
        if behaviour == "slide":
            if appear:
                push = appear + clock.frames(_uniform(rng, 0.3, 1.5))
            else:
                push = max(1, clock.frame(_uniform(rng, 0.2, duration - 2.5)))
            push = min(push, clock.n_frames - 1)
            direction = 1.0 if geo.wall_right - x > x - geo.wall_left else -1.0
            if rng.random() < 0.25:  # sometimes towards the nearer wall, to hit it
                direction = -direction
            push_vx = direction * _uniform(rng, 70, 170) * u
        info = ObjectInfo(len(bodies), shape, mat, size, behaviour, appear)
        bodies.append(BodyPlan(info, x, y, vx, release, push, push_vx))
    return bodies


def _fixture_y(rng: np.random.Generator, geo: Geometry) -> float:
    return _uniform(rng, 0.12 * geo.height, 0.38 * geo.height)


def _sample_machine(rng: np.random.Generator, clock: _Clock, geo: Geometry, object_id: int,
                    taken: list[tuple[float, float]], duration: float) -> FixturePlan | None:
    i = int(rng.integers(len(MACHINE_SIZES)))
    w = round(MACHINE_SIZES[i][0] * geo.unit)
    x = _free_x(rng, geo, w / 2, taken)
    if x is None:
        return None
    if rng.random() < 0.5:  # running all along
        on, off = 0, clock.n_frames
    else:  # shows up (and starts) later, maybe goes away before the end
        on = clock.frame(_uniform(rng, 0.3, duration / 2))
        off = min(clock.n_frames, on + clock.frames(_uniform(rng, 2.0, duration)))
    info = ObjectInfo(object_id, "machine", "", w, "hum", on, pitch_hz=HUM_HZ[i],
                      pulse_hz=round(_uniform(rng, 1.5, 3.5), 3))
    return FixturePlan(info, x, _fixture_y(rng, geo), ((on, off),))


def _sample_lamp(rng: np.random.Generator, clock: _Clock, geo: Geometry, object_id: int,
                 taken: list[tuple[float, float]], duration: float) -> FixturePlan | None:
    colour = LAMP_COLOURS[int(rng.integers(len(LAMP_COLOURS)))]
    d = round(10 * geo.unit)
    x = _free_x(rng, geo, d / 2, taken)
    if x is None:
        return None
    intervals: list[tuple[int, int]] = []
    if rng.random() < 0.6:  # one to four short flashes
        behaviour = "flash"
        t = _uniform(rng, 0.3, 2.0)
        for _ in range(int(rng.integers(1, 5))):
            if t > duration - 0.3:
                break
            on = clock.frame(t)
            intervals.append((on, min(clock.n_frames, on + max(2, clock.frames(
                _uniform(rng, 0.06, 0.16))))))
            t += _uniform(rng, 0.5, 2.0)
    else:  # one long glow
        behaviour = "tone"
        on = clock.frame(_uniform(rng, 0.3, duration - 1.0))
        intervals.append((on, min(clock.n_frames, on + clock.frames(_uniform(rng, 0.8, 3.0)))))
    if not intervals:
        return None
    info = ObjectInfo(object_id, "lamp", "", d, behaviour, 0, colour=colour,
                      pitch_hz=LAMP_PITCH_HZ[colour])
    return FixturePlan(info, x, _fixture_y(rng, geo), tuple(intervals))


def _sample_balloon(rng: np.random.Generator, geo: Geometry, object_id: int) -> BalloonPlan:
    colour = BALLOON_COLOURS[int(rng.integers(len(BALLOON_COLOURS)))]
    u = geo.unit
    size = round(_uniform(rng, 9, 13) * u)
    info = ObjectInfo(object_id, "balloon", "", size, "drift", 0, colour=colour)
    return BalloonPlan(
        info, BALLOON_RGB[colour],
        x0=_uniform(rng, 0.1 * geo.width, 0.9 * geo.width),
        vx=float(rng.choice((-1, 1))) * _uniform(rng, 4, 12) * u,
        y0=_uniform(rng, 0.15 * geo.height, 0.4 * geo.height),
        amp=_uniform(rng, 2, 6) * u,
        freq_hz=_uniform(rng, 0.2, 0.6),
        phase=_uniform(rng, 0, 2 * np.pi),
    )


def sample_scene(rng: np.random.Generator, config: WorldConfig, fps: Fraction) -> ScenePlan:
    """Draw the content of one clip from `rng` (the only source of randomness)."""
    geo = make_geometry(config.height, config.width)
    n_frames = count_frames(config.duration_s, fps)
    clock = _Clock(fps, n_frames)
    floor_material = FLOOR_MATERIALS[int(rng.integers(len(FLOOR_MATERIALS)))]
    wall_rgb = WALL_COLOURS[int(rng.integers(len(WALL_COLOURS)))]
    silent = rng.random() < config.p_silent
    if silent:
        n_bodies = int(rng.integers(0, min(2, config.max_objects) + 1))
    else:
        n_bodies = int(rng.integers(1, config.max_objects + 1)) if config.max_objects > 0 else 0
    bodies = _sample_bodies(rng, config, clock, geo, n_bodies, silent)

    fixtures: list[FixturePlan] = []
    taken: list[tuple[float, float]] = []  # fixtures do not overlap each other
    for p, sample in ((config.p_machine, _sample_machine), (config.p_lamp, _sample_lamp)):
        if not silent and rng.random() < p:
            fixture = sample(rng, clock, geo, len(bodies) + len(fixtures), taken,
                             config.duration_s)
            if fixture is not None:
                fixtures.append(fixture)
    balloons = []
    if rng.random() < config.p_balloon:
        balloons.append(_sample_balloon(rng, geo, len(bodies) + len(fixtures)))
    changes = rng.random() < config.p_background_change
    return ScenePlan(
        geometry=geo,
        fps=fps,
        n_frames=n_frames,
        floor_material=floor_material,
        wall_rgb=wall_rgb,
        background_amp=_uniform(rng, 0.08, 0.18) if changes else 0.0,
        background_period_s=_uniform(rng, 2.0, 6.0),
        background_phase=_uniform(rng, 0, 2 * np.pi),
        bodies=tuple(bodies),
        fixtures=tuple(fixtures),
        balloons=tuple(balloons),
    )


def fixture_events(plan: ScenePlan) -> list[SoundEvent]:
    """Sound events of machines (hum while visible) and lamps (beep while lit)."""
    events = []
    for fx in plan.fixtures:
        info = fx.info
        for on, off in fx.intervals:
            events.append(SoundEvent(plan.time_of(on), info.behaviour, info.object_id, "",
                                     1.0, duration_s=plan.time_of(off) - plan.time_of(on),
                                     frame=on))
    return events
