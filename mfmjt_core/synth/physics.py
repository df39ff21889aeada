"""Frame-rate physics of balls and cubes, and the sound events it produces.

One integration step per video frame, and contacts are resolved at the frame itself: an object
is snapped to the surface it hits, so the frame of every impact shows the contact and the sound
starts at that frame's time. Balls are disks, cubes axis-aligned squares, for both drawing and
collision, so what is seen touching is what is heard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfmjt_core.synth.materials import material
from mfmjt_core.synth.scene import BodyPlan, ScenePlan, SoundEvent

# Speeds in pixels per second at unit 1 (a 96-pixel-high frame).
GRAVITY = 420.0
REFERENCE_SPEED = 220.0  # an impact at this normal speed has strength 1
MIN_EVENT_SPEED = 30.0  # slower contacts are silent and bring a bounce to rest
MIN_SLIDE_SPEED = 12.0  # slower sliding stops at once
FRICTION_DECEL = 160.0  # sliding deceleration per unit of material friction
SLIDE_REFERENCE_SPEED = 170.0
ROLL_OFF_SPEED = 30.0  # sideways nudge so nothing comes to rest on top of another object

_HIDDEN, _HELD, _AIR, _FLOOR = 0, 1, 2, 3


@dataclass(frozen=True)
class Simulation:
    """Result of `simulate`: per-body tracks and the events of the bodies."""

    positions: np.ndarray  # (n_bodies, T, 2) float32 centre (x, y)
    visible: np.ndarray  # (n_bodies, T) bool
    slide_speed: np.ndarray  # (n_bodies, T) float32 |vx| while on the floor (drives scrapes)
    events: tuple[SoundEvent, ...]


class _Body:
    __slots__ = (
        "box",
        "e",
        "half",
        "mu",
        "plan",
        "slide_start",
        "slide_strength",
        "state",
        "vx",
        "vy",
        "w",
        "x",
        "y",
    )

    def __init__(self, plan: BodyPlan) -> None:
        self.plan = plan
        self.half = plan.info.size_px / 2.0
        self.box = plan.info.kind == "cube"
        self.x, self.y, self.vx, self.vy = plan.x, plan.y, 0.0, 0.0
        self.state = _HIDDEN
        self.w = 1.0 / plan.info.size_px**2  # inverse mass
        mat = material(plan.info.material)
        self.e, self.mu = mat.restitution, mat.friction
        self.slide_start = -1
        self.slide_strength = 0.0


def _contact(a: _Body, b: _Body) -> tuple[float, float, float] | None:
    """(nx, ny, penetration) with n pointing from a to b, or None if they do not touch."""
    dx, dy = b.x - a.x, b.y - a.y
    if not a.box and not b.box:
        dist = math.hypot(dx, dy)
        pen = a.half + b.half - dist
        if pen < 0:
            return None
        return (dx / dist, dy / dist, pen) if dist > 1e-9 else (1.0, 0.0, pen)
    if a.box and b.box:
        px, py = a.half + b.half - abs(dx), a.half + b.half - abs(dy)
        if px < 0 or py < 0:
            return None
        return (math.copysign(1.0, dx), 0.0, px) if px < py else (0.0, math.copysign(1.0, dy), py)
    box, disk, sign = (a, b, 1.0) if a.box else (b, a, -1.0)
    # Closest point of the box to the disk centre.
    cx = min(max(disk.x, box.x - box.half), box.x + box.half)
    cy = min(max(disk.y, box.y - box.half), box.y + box.half)
    ox, oy = disk.x - cx, disk.y - cy
    dist = math.hypot(ox, oy)
    if dist > disk.half:
        return None
    if dist < 1e-9:  # centre inside the box: push out along the shallower axis
        ddx, ddy = disk.x - box.x, disk.y - box.y
        px, py = box.half + disk.half - abs(ddx), box.half + disk.half - abs(ddy)
        nx, ny, pen = ((math.copysign(1.0, ddx), 0.0, px) if px < py
                       else (0.0, math.copysign(1.0, ddy), py))
    else:
        nx, ny, pen = ox / dist, oy / dist, disk.half - dist
    return nx * sign, ny * sign, pen


def simulate(plan: ScenePlan) -> Simulation:
    """Run the bodies of `plan` frame by frame; return tracks and their sound events."""
    geo, n_frames = plan.geometry, plan.n_frames
    u = geo.unit
    dt = 1.0 / float(plan.fps)
    g, v_ref, v_min = GRAVITY * u, REFERENCE_SPEED * u, MIN_EVENT_SPEED * u
    v_slide, decel = MIN_SLIDE_SPEED * u, FRICTION_DECEL * u
    bodies = [_Body(b) for b in plan.bodies]
    n = len(bodies)
    positions = np.zeros((n, n_frames, 2), np.float32)
    visible = np.zeros((n, n_frames), bool)
    slide_speed = np.zeros((n, n_frames), np.float32)
    events: list[SoundEvent] = []
    last_pair_event: dict[tuple[int, int], int] = {}

    def emit(k: int, kind: str, b: _Body, strength: float, **extra) -> None:
        info = b.plan.info
        events.append(SoundEvent(plan.time_of(k), kind, info.object_id, info.material,
                                 round(min(1.0, strength), 4), frame=k, **extra))

    def land(k: int, b: _Body) -> None:
        """b comes to rest vertically on the floor; it slides on if it still moves sideways."""
        b.state, b.vy = _FLOOR, 0.0
        if abs(b.vx) <= v_slide:
            b.vx = 0.0

    for k in range(n_frames):
        for b in bodies:
            p = b.plan
            if b.state == _HIDDEN and k == p.info.appear_frame:
                b.state = _HELD if p.info.behaviour == "drop" else _FLOOR
                if k > 0:
                    emit(k, "appear", b, 1.0)
            if b.state == _HELD and k == p.release_frame:
                b.state, b.vx = _AIR, p.vx
            if b.state == _FLOOR and k == p.push_frame:
                b.vx = p.push_vx
            # Integrate from frame k-1 to k.
            y_before, vy_before = b.y, b.vy
            if b.state == _AIR:
                b.vy += g * dt
                b.x += b.vx * dt
                b.y += b.vy * dt
            elif b.state == _FLOOR and b.vx != 0.0:
                speed = abs(b.vx)
                new = max(0.0, speed - b.mu * decel * dt)
                b.x += math.copysign((speed + new) / 2, b.vx) * dt
                b.vx = math.copysign(new, b.vx) if new > v_slide else 0.0
            if b.state in (_AIR, _FLOOR):
                _walls(k, b, geo.wall_left, geo.wall_right, v_ref, v_min, emit)
            if b.state == _AIR and b.y + b.half >= geo.floor_y:
                # Speed at the moment of contact, not the frame-quantised speed after the step.
                drop = max(0.0, geo.floor_y - b.half - y_before)
                b.vy = math.sqrt(max(vy_before, 0.0) ** 2 + 2 * g * drop)
                b.y = geo.floor_y - b.half
                if b.vy > v_min:
                    emit(k, "impact", b, b.vy / v_ref, surface="floor")
                    b.vy = -b.e * b.vy
                    b.vx *= 0.85
                    if -b.vy < v_min:
                        land(k, b)
                else:
                    land(k, b)
        _collide(k, bodies, v_ref, v_min, v_slide, ROLL_OFF_SPEED * u, emit, last_pair_event)
        for i, b in enumerate(bodies):
            if b.state == _HIDDEN:
                continue
            # Collisions may have nudged a body into the floor or a wall: keep it outside.
            b.y = min(b.y, geo.floor_y - b.half)
            b.x = min(max(b.x, geo.wall_left + b.half), geo.wall_right - b.half)
            visible[i, k] = True
            positions[i, k] = (b.x, b.y)
            moving = b.state == _FLOOR and b.vx != 0.0
            if moving:
                slide_speed[i, k] = abs(b.vx)
                if b.slide_start < 0:
                    b.slide_start, b.slide_strength = k, abs(b.vx) / (SLIDE_REFERENCE_SPEED * u)
            if not moving and b.slide_start >= 0:
                _close_slide(plan, events, b, k)
    for b in bodies:
        if b.slide_start >= 0:
            _close_slide(plan, events, b, n_frames)
    events.sort(key=lambda e: (e.frame, e.object_id, e.kind))
    return Simulation(positions, visible, slide_speed, tuple(events))


def _close_slide(plan: ScenePlan, events: list[SoundEvent], b: _Body, end: int) -> None:
    info = b.plan.info
    start = b.slide_start
    events.append(SoundEvent(plan.time_of(start), "slide", info.object_id, info.material,
                             round(min(1.0, b.slide_strength), 4),
                             duration_s=plan.time_of(end) - plan.time_of(start),
                             frame=start, surface="floor"))
    b.slide_start = -1


def _walls(k, b: _Body, left: float, right: float, v_ref: float, v_min: float, emit) -> None:
    if b.x - b.half < left:
        b.x, speed = left + b.half, -b.vx
    elif b.x + b.half > right:
        b.x, speed = right - b.half, b.vx
    else:
        return
    if speed <= 0:
        return
    if speed > v_min:
        emit(k, "impact", b, speed / v_ref, surface="wall")
    b.vx = -math.copysign(b.e * speed, b.vx)


def _collide(k, bodies: list[_Body], v_ref, v_min, v_slide, roll_off, emit, last_pair) -> None:
    """Resolve every touching pair: separate them and exchange momentum along the normal."""
    for i in range(len(bodies)):
        a = bodies[i]
        if a.state == _HIDDEN:
            continue
        for j in range(i + 1, len(bodies)):
            b = bodies[j]
            if b.state == _HIDDEN:
                continue
            c = _contact(a, b)
            if c is None:
                continue
            nx, ny, pen = c
            # Held bodies do not move; the floor carries the vertical part for resting ones.
            wa = 0.0 if a.state == _HELD or (a.state == _FLOOR and abs(ny) > 0.7) else a.w
            wb = 0.0 if b.state == _HELD or (b.state == _FLOOR and abs(ny) > 0.7) else b.w
            if wa + wb == 0.0:
                continue
            for body, share, sgn in ((a, wa / (wa + wb), -1.0), (b, wb / (wa + wb), 1.0)):
                body.x += sgn * nx * pen * share
                if body.state != _FLOOR:
                    body.y += sgn * ny * pen * share
            rel = (b.vx - a.vx) * nx + (b.vy - a.vy) * ny
            if rel >= 0:
                continue
            jimp = -(1.0 + (a.e + b.e) / 2) * rel / (wa + wb)
            a.vx -= jimp * wa * nx
            a.vy -= jimp * wa * ny
            b.vx += jimp * wb * nx
            b.vy += jimp * wb * ny
            for body, other in ((a, b), (b, a)):
                if body.state == _FLOOR:
                    body.vy = 0.0
                    if abs(body.vx) <= v_slide:
                        body.vx = 0.0
                elif body.state == _AIR and other.state == _FLOOR and body.y < other.y:
                    # Landed on top of a resting object: roll off it rather than settle there.
                    body.vx += math.copysign(roll_off, body.x - other.x or 1.0)
            if -rel > v_min and last_pair.get((i, j), -10) < k - 2:
                emit(k, "collision", a, -rel / v_ref, surface=b.plan.info.material,
                     other_id=b.plan.info.object_id)
            last_pair[(i, j)] = k
