"""Draw the frames of a clip with numpy: a background, then fixtures, balloons and bodies.

Every object is a small RGBA sprite made once per clip and alpha-blended at its integer
position; frames where an object does not move are blended in one vectorised operation.
Visual cues of materials: metal grey with a white highlight, wood brown with dark stripes,
glass light cyan and see-through with a bright rim, rubber dark red and matte. With
`neutral_bodies` every ball and cube has one look that is no material's (flat, opaque, grey
violet), so only the caption can say what it is made of (training rows of that kind teach the
network to take the material from the words: docs/training.md, "Where a caption's material is
lost").
"""

from __future__ import annotations

import numpy as np

from mfmjt_core.synth.materials import material
from mfmjt_core.synth.physics import Simulation
from mfmjt_core.synth.scene import (
    HUM_HZ,
    LAMP_RGB,
    MACHINE_SIZES,
    ObjectInfo,
    ScenePlan,
    machine_pulse,
)

_FLOOR_RGB = {"wood": (200, 164, 112), "stone": (152, 150, 142), "metal": (118, 126, 138)}
# No material's, lamp's, balloon's or floor's colour.
NEUTRAL_BODY_RGB = (118, 104, 140)


def _disk_alpha(h: int, w: int) -> np.ndarray:
    """Anti-aliased ellipse filling an h x w box."""
    yy = (np.arange(h, dtype=np.float32) + 0.5 - h / 2) / (h / 2)
    xx = (np.arange(w, dtype=np.float32) + 0.5 - w / 2) / (w / 2)
    d = np.sqrt(yy[:, None] ** 2 + xx[None, :] ** 2)
    return np.clip((1.0 - d) * min(h, w) / 2 + 0.5, 0.0, 1.0)


def _edge(h: int, w: int) -> np.ndarray:
    """True on the one-pixel border of an h x w box."""
    e = np.zeros((h, w), bool)
    e[0, :] = e[-1, :] = e[:, 0] = e[:, -1] = True
    return e


def body_sprite(info: ObjectInfo, *, neutral: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(rgb (s, s, 3) float32 0..255, alpha (s, s) float32) of a ball or cube; with `neutral`
    its shape and size only, in a look that is no material's."""
    s = info.size_px
    mat = material(info.material)
    look = "" if neutral else info.material  # the material whose looks are drawn, if any
    base = np.array(NEUTRAL_BODY_RGB if neutral else mat.colour, np.float32)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    rgb = np.broadcast_to(base, (s, s, 3)).copy()
    if look == "wood":
        stripes = ((yy / max(2.0, s / 5)) % 2.0) < 0.8
        rgb[stripes] *= 0.62
    elif look == "metal":
        rgb *= (1.1 - 0.35 * yy / s)[..., None]
        hl = np.exp(-(((xx - 0.32 * s) ** 2 + (yy - 0.3 * s) ** 2) / (2 * (0.13 * s) ** 2)))
        rgb += (255.0 - rgb) * hl[..., None]
    elif look == "glass":
        hl = np.exp(-(((xx - 0.3 * s) ** 2 + (yy - 0.28 * s) ** 2) / (2 * (0.09 * s) ** 2)))
        rgb += (255.0 - rgb) * hl[..., None]
    elif look == "rubber":
        rgb *= (1.05 - 0.3 * (xx + yy) / (2 * s))[..., None]
    if info.kind == "ball":
        alpha = _disk_alpha(s, s)
        inner = _disk_alpha(s - 2, s - 2)
        rim = np.ones((s, s), np.float32)
        rim[1:-1, 1:-1] -= inner
        rim = np.clip(rim, 0, 1) * (alpha > 0)
    else:
        alpha = np.ones((s, s), np.float32)
        rim = _edge(s, s).astype(np.float32)
    if look == "glass":  # see-through body, bright opaque rim
        rim_rgb = np.array((80, 165, 180), np.float32)
        rgb = rgb * (1 - rim[..., None]) + rim_rgb * rim[..., None]
        alpha = alpha * (mat.opacity + (1 - mat.opacity) * rim)
    else:
        rgb = rgb * (1 - 0.45 * rim[..., None])
    return np.clip(rgb, 0, 255), alpha.astype(np.float32)


def _blend(frames: np.ndarray, t0: int, t1: int, top: int, left: int, rgb: np.ndarray,
           alpha: np.ndarray) -> None:
    """Alpha-blend a sprite into frames[t0:t1] at (top, left), clipped to the frame."""
    h, w = alpha.shape
    height, width = frames.shape[1:3]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, height), min(left + w, width)
    if y0 >= y1 or x0 >= x1:
        return
    a = alpha[y0 - top:y1 - top, x0 - left:x1 - left, None]
    c = rgb[y0 - top:y1 - top, x0 - left:x1 - left]
    patch = frames[t0:t1, y0:y1, x0:x1].astype(np.float32)
    frames[t0:t1, y0:y1, x0:x1] = (patch + (c - patch) * a + 0.5).astype(np.uint8)


def _blend_track(frames: np.ndarray, tops: np.ndarray, lefts: np.ndarray, visible: np.ndarray,
                 rgb: np.ndarray, alpha: np.ndarray) -> None:
    """Blend a sprite along a track, one operation per run of frames at the same position."""
    t = np.flatnonzero(visible)
    if t.size == 0:
        return
    key = np.stack([tops[t], lefts[t], t - np.arange(t.size)])  # a gap starts a new run too
    starts = np.flatnonzero(np.r_[True, np.any(key[:, 1:] != key[:, :-1], axis=0)])
    ends = np.r_[starts[1:], t.size]
    for s, e in zip(starts, ends):
        _blend(frames, int(t[s]), int(t[e - 1]) + 1, int(tops[t[s]]), int(lefts[t[s]]), rgb, alpha)


def _round(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5).astype(np.int64)


def render_background(plan: ScenePlan) -> np.ndarray:
    """Wall (its brightness may drift: a silent distractor), side walls and textured floor."""
    geo = plan.geometry
    h, w, fy = geo.height, geo.width, geo.floor_y
    wall = np.empty((h, w, 3), np.float32)
    wall[:] = np.array(plan.wall_rgb, np.float32)
    wall *= (0.92 + 0.08 * np.arange(h, dtype=np.float32) / h)[:, None, None]
    wall[:, : geo.wall_left] *= 0.7
    wall[:, geo.wall_right:] *= 0.7
    floor = wall[fy:]
    floor[:] = np.array(_FLOOR_RGB[plan.floor_material], np.float32)
    yy, xx = np.mgrid[0: h - fy, 0:w]
    step = max(4, round(12 * geo.unit))
    if plan.floor_material == "wood":  # planks
        floor[(xx + 5 * (yy // 6)) % step == 0] *= 0.7
    elif plan.floor_material == "stone":  # tiles
        floor[(xx % step == 0) | (yy % (step // 2) == 0)] *= 0.75
    else:  # studded plate
        floor[((xx % 6) == 2) & ((yy % 6) == 2)] = 200.0
    floor[0] *= 0.55  # a dark edge marks where the floor begins
    n = plan.n_frames
    frames = np.empty((n, h, w, 3), np.uint8)
    frames[:, fy:] = (floor + 0.5).astype(np.uint8)
    if plan.background_amp == 0.0:
        frames[:, :fy] = (wall[:fy] + 0.5).astype(np.uint8)
    else:
        t = np.arange(n) / float(plan.fps)
        gain = 1 + plan.background_amp * np.sin(2 * np.pi * t / plan.background_period_s
                                                + plan.background_phase)
        for k in range(n):  # per frame keeps memory small; the product is cheap
            frames[k, :fy] = np.clip(wall[:fy] * np.float32(gain[k]) + 0.5, 0, 255)
    return frames


def _draw_fixtures(frames: np.ndarray, plan: ScenePlan) -> None:
    u, times = plan.geometry.unit, np.arange(plan.n_frames) / float(plan.fps)
    for fx in plan.fixtures:
        info = fx.info
        if info.kind == "machine":
            w, h = info.size_px, round(MACHINE_SIZES[HUM_HZ.index(info.pitch_hz)][1] * u)
            rgb = np.empty((h, w, 3), np.float32)
            rgb[:] = (70, 80, 98)
            rgb[2:-2:3, w // 2:-2] = (40, 45, 55)  # grille
            rgb[_edge(h, w)] = (30, 34, 42)
            top, left = round(fx.y - h / 2), round(fx.x - w / 2)
            ls = max(3, round(0.3 * h))
            light_top, light_left = top + (h - ls) // 2, left + max(2, round(0.15 * w))
            for on, off in fx.intervals:
                _blend(frames, on, off, top, left, rgb, np.ones((h, w), np.float32))
                level = machine_pulse(times[on:off] - times[on], info.pulse_hz)
                lit = np.array((255, 170, 40), np.float32) * (0.25 + 0.75 * level[:, None])
                _set_box(frames, on, off, light_top, light_left, ls, ls, lit)
        else:  # lamp: hangs on a cord with a grey cap; pale when off, bright with a halo when lit
            d = info.size_px
            colour = np.array(LAMP_RGB[info.colour], np.float32)
            top, left = round(fx.y - d / 2), round(fx.x - d / 2)
            cx = left + d // 2
            cap = max(2, d // 3)
            frames[:, : max(0, top + 1), cx] = (60, 60, 60)
            frames[:, max(0, top - 1): top + cap // 2, left + 1: left + d - 1] = (110, 110, 118)
            off_rgb = 0.4 * colour + 0.6 * np.array((235, 235, 235), np.float32)
            bulb = _disk_alpha(d, d)
            _blend(frames, 0, plan.n_frames, top + cap // 2, left,
                   np.broadcast_to(off_rgb, (d, d, 3)), bulb)
            halo_d = d + 2 * round(3 * u)
            halo = _disk_alpha(halo_d, halo_d) * 0.45
            hd = (halo_d - d) // 2
            for on, off in fx.intervals:
                _blend(frames, on, off, top + cap // 2 - hd, left - hd,
                       np.broadcast_to(colour, (halo_d, halo_d, 3)), halo)
                _blend(frames, on, off, top + cap // 2, left, np.broadcast_to(colour, (d, d, 3)),
                       bulb)


def _set_box(frames: np.ndarray, t0: int, t1: int, top: int, left: int, h: int, w: int,
             rgb_per_frame: np.ndarray) -> None:
    height, width = frames.shape[1:3]
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, height), min(left + w, width)
    if y0 < y1 and x0 < x1:
        frames[t0:t1, y0:y1, x0:x1] = (rgb_per_frame[:, None, None, :] + 0.5).astype(np.uint8)


def _draw_balloons(frames: np.ndarray, plan: ScenePlan) -> None:
    t = np.arange(plan.n_frames) / float(plan.fps)
    for bl in plan.balloons:
        s = bl.info.size_px
        w, h = s, round(1.25 * s)
        string = max(3, round(0.8 * s))
        alpha = np.zeros((h + string, w), np.float32)
        alpha[:h] = _disk_alpha(h, w)
        alpha[h:, w // 2] = 1.0
        rgb = np.empty((h + string, w, 3), np.float32)
        rgb[:] = bl.colour_rgb
        rgb[h:] = (90, 90, 90)
        x = bl.x0 + bl.vx * t
        y = bl.y0 + bl.amp * np.sin(2 * np.pi * bl.freq_hz * t + bl.phase)
        _blend_track(frames, _round(y - h / 2), _round(x - w / 2), np.ones(plan.n_frames, bool),
                     rgb, alpha)


def render(plan: ScenePlan, sim: Simulation, *, neutral_bodies: bool = False) -> np.ndarray:
    """All frames of a clip, uint8 (T, H, W, 3); `neutral_bodies`: balls and cubes in one look
    that is no material's."""
    frames = render_background(plan)
    _draw_fixtures(frames, plan)
    _draw_balloons(frames, plan)
    for i, body in enumerate(plan.bodies):
        rgb, alpha = body_sprite(body.info, neutral=neutral_bodies)
        half = body.info.size_px / 2
        pos = sim.positions[i].astype(np.float64)
        _blend_track(frames, _round(pos[:, 1] - half), _round(pos[:, 0] - half), sim.visible[i],
                     rgb, alpha)
    return frames
