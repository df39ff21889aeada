"""Bouncing-ball clips made outside the project's world: Blender's rigid-body physics and renderer.

    python scripts/outside_clips.py OUT [-n 8] [--seconds 8] [--blender-python .venv-bpy45/bin/python]
    mfmjt eval clips OUT --out OUT/eval --threads 1

The procedural world (`mfmjt_core/synth`) draws flat shapes and synthesises their sounds itself; a
model trained on it should also be checked on clips it did not make. Here real Blender (the `bpy`
wheel, headless) drops one or two balls onto a floor with Bullet rigid-body physics and renders
them side-on (the world's composition: a wall, a floor band, objects a tenth of the frame high)
with its Workbench engine, at odd frame sizes and common frame rates. Each
impact is found from the ball's simulated height (the instant it reaches the floor, between
frames, from the free fall before it) and sounded as a decaying resonance with a short noise
burst whose level follows the impact speed. OUT gets `bounce_NN.mp4` (H.264 + AAC) and
`bounce_NN.json` (the impact times, speeds and the render settings).

The script runs twice: under the main venv it sends the rendering to the bpy interpreter
(`--render`, no torch or mfmjt imports there), then reads the frames back and writes the files.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from pathlib import Path

GRAVITY = 9.81
SIZES = ((426, 240), (360, 270), (320, 180), (400, 300))
FPS = ((24, 1.0), (25, 1.0), (30, 1.001), (30, 1.0))  # (fps, fps_base): 30 / 1.001 is NTSC
SAMPLE_RATE = 48_000
ORTHO_WIDTH = 4.0  # metres of the scene across the frame
FLOOR_BAND = 0.18  # the floor's front face fills this share of the frame's height


# -- inside Blender ---------------------------------------------------------------------------

def _render(out: Path, seed: int, seconds: float) -> dict:
    import bpy

    rng = random.Random(seed)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    width, height = SIZES[seed % len(SIZES)]
    fps, fps_base = FPS[seed % len(FPS)]
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = width, height, 100
    scene.render.fps, scene.render.fps_base = fps, fps_base
    rate = fps / fps_base
    scene.frame_start, scene.frame_end = 1, round(seconds * rate)
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "OBJECT"
    scene.render.image_settings.file_format = "BMP"  # uncompressed: read back without codecs

    bpy.ops.rigidbody.world_add()
    world = scene.rigidbody_world
    world.substeps_per_frame, world.solver_iterations = 20, 20
    world.point_cache.frame_start, world.point_cache.frame_end = scene.frame_start, scene.frame_end

    # The world's composition (a wall, a floor band along the bottom, objects a tenth of the frame
    # high, seen side-on) made with other tools: an orthographic camera, Bullet, Workbench.
    frame_h = ORTHO_WIDTH * height / width
    bottom = -FLOOR_BAND * frame_h
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 0.0, -2.0))
    floor = bpy.context.object
    floor.scale = (30.0, 4.0, 4.0)  # top face at z = 0, front face the band
    floor.color = (*[rng.uniform(0.2, 0.4)] * 3, 1.0)
    bpy.ops.rigidbody.object_add(type="PASSIVE")
    floor.rigid_body.restitution, floor.rigid_body.friction = 1.0, 0.5
    bpy.ops.mesh.primitive_plane_add(size=30.0, location=(0.0, 2.5, 5.0), rotation=(math.radians(90), 0.0, 0.0))
    wall = bpy.context.object
    grey = rng.uniform(0.55, 0.8)  # pale and grey: only the balls are strongly coloured
    wall.color = (grey, grey + 0.02, grey + 0.05, 1.0)

    balls = []
    top = bottom + frame_h
    for k in range(rng.choice((1, 1, 2))):
        radius = rng.uniform(0.1, 0.2)
        drop = rng.uniform(0.5, top - 0.3 - 2 * radius)
        x = rng.uniform(-1.2, 1.2) if k == 0 else -balls[0]["x"] * 0.8
        bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, location=(x, 0.0, radius + drop), segments=32,
                                             ring_count=16)
        ball = bpy.context.object
        bpy.ops.object.shade_smooth()
        ball.color = (*rng.choice(((0.9, 0.15, 0.1), (0.1, 0.4, 0.9), (0.95, 0.8, 0.1), (0.2, 0.75, 0.3))), 1.0)
        bpy.ops.rigidbody.object_add(type="ACTIVE")
        ball.rigid_body.collision_shape = "SPHERE"
        ball.rigid_body.restitution = rng.uniform(0.55, 0.85)
        ball.rigid_body.friction, ball.rigid_body.mass = 0.5, 1.0
        start = rng.uniform(0.0, 2.5) if k else rng.uniform(0.0, 1.0)
        if start > 0:  # held still (animated) until it is let go
            ball.rigid_body.kinematic = True
            ball.keyframe_insert("rigid_body.kinematic", frame=1)
            ball.rigid_body.kinematic = False
            ball.keyframe_insert("rigid_body.kinematic", frame=1 + round(start * rate))
        balls.append({"object": ball, "radius": radius, "x": x, "z": []})

    bpy.ops.object.camera_add(location=(0.0, -10.0, bottom + frame_h / 2), rotation=(math.radians(90), 0.0, 0.0))
    camera = bpy.context.object
    camera.data.type, camera.data.ortho_scale = "ORTHO", ORTHO_WIDTH
    scene.camera = camera

    for frame in range(scene.frame_start, scene.frame_end + 1):  # steps the simulation in order
        scene.frame_set(frame)
        for b in balls:
            b["z"].append(b["object"].matrix_world.translation.z)
    scene.render.filepath = str(out / "frame_")
    bpy.ops.render.render(animation=True)
    impacts = sorted(i for b in balls for i in _impacts(b["z"], b["radius"], rate))
    return {"seed": seed, "width": width, "height": height, "fps": [fps, fps_base],
            "frames": scene.frame_end, "balls": len(balls),
            "impacts": [{"time_s": t, "speed": v} for t, v in impacts]}


def _impacts(z: list[float], radius: float, rate: float, min_speed: float = 0.4) -> list[tuple[float, float]]:
    """(time, speed) of each floor contact: from the last frame before a height minimum, the fall
    on to the floor under gravity from its velocity there (`z[k]` is shown at t = k / rate)."""
    dt = 1.0 / rate
    out = []
    for i in range(2, len(z) - 1):
        # in free fall a height minimum happens only at a contact (a fast ball's lowest frame
        # may still be well above the floor)
        if z[i - 1] > z[i] <= z[i + 1] and z[i - 1] - z[i] > 1e-4:
            j = i - 1  # last frame in free fall
            v = (z[j] - z[j - 1]) / dt - GRAVITY * dt / 2  # velocity at frame j (down is negative)
            h = max(z[j] - radius, 0.0)
            # h + v s - g s^2 / 2 = 0 for the fall time s
            s = (v + math.sqrt(v * v + 2 * GRAVITY * h)) / GRAVITY
            speed = -(v - GRAVITY * s)
            if speed >= min_speed:
                out.append((round(j * dt + min(s, 2 * dt), 5), round(speed, 3)))
    return out


# -- outside Blender --------------------------------------------------------------------------

def impact_sound(impacts: list[dict], seconds: float, seed: int):
    """float32 (samples,) at SAMPLE_RATE: a resonant knock with a short noise burst at each impact,
    its level by the speed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = round(seconds * SAMPLE_RATE)
    audio = np.zeros(n, dtype=np.float64)
    f0 = rng.uniform(500, 2200)
    ratios, decay = np.array([1.0, 2.71, 5.19]), rng.uniform(0.04, 0.12)
    tail = np.arange(round(0.6 * SAMPLE_RATE)) / SAMPLE_RATE
    ring = sum(np.exp(-tail / (decay / k)) * np.sin(2 * np.pi * f0 * r * tail) / k for k, r in enumerate(ratios, 1))
    burst = rng.standard_normal(round(0.004 * SAMPLE_RATE)) * np.linspace(1, 0, round(0.004 * SAMPLE_RATE))
    knock = ring.copy()
    knock[: burst.size] += 0.5 * burst
    for hit in impacts:
        start = round(hit["time_s"] * SAMPLE_RATE)
        if start >= n:
            continue
        level = 0.7 * min(1.0, hit["speed"] / 5.0) ** 0.8
        end = min(n, start + knock.size)
        audio[start:end] += level * knock[: end - start]
    peak = np.abs(audio).max()
    if peak > 0.95:
        audio *= 0.95 / peak
    return audio.astype(np.float32)


def _read_frames(folder: Path):
    import av
    import numpy as np

    frames = []
    for image in sorted(folder.glob("frame_*.bmp")):
        with av.open(str(image)) as container:
            frames.append(next(container.decode(video=0)).to_ndarray(format="rgb24"))
    return np.stack(frames)


def make_clips(out: Path, count: int, seconds: float, blender_python: str, first_seed: int = 0) -> list[Path]:
    from fractions import Fraction

    from mfmjt_core.media import write_video

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(count):
        seed = first_seed + k
        work = out / f".render_{seed:02d}"
        work.mkdir(exist_ok=True)
        subprocess.run([blender_python, __file__, "--render", str(work), "--seed", str(seed),
                        "--seconds", str(seconds)], check=True, stdout=subprocess.DEVNULL)
        info = json.loads((work / "clip.json").read_text())
        frames = _read_frames(work)
        fps, base = info["fps"]
        rate = Fraction(fps * 1000, round(base * 1000))
        audio = impact_sound(info["impacts"], seconds, seed)
        path = write_video(out / f"bounce_{seed:02d}.mp4", frames, rate, audio=audio[None],
                           sample_rate=SAMPLE_RATE)
        (out / f"bounce_{seed:02d}.json").write_text(json.dumps(info, indent=1) + "\n")
        for f in work.iterdir():
            f.unlink()
        work.rmdir()
        written.append(path)
        print(f"{path.name}: {info['width']}x{info['height']} at {float(rate):.3f} fps, "
              f"{len(info['impacts'])} impacts", file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("-n", "--count", type=int, default=8)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--blender-python", default=str(Path(__file__).resolve().parents[1] / ".venv-bpy45/bin/python"))
    p.add_argument("--render", action="store_true", help=argparse.SUPPRESS)  # inside Blender
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.render:
        info = _render(args.out, args.seed, args.seconds)
        (args.out / "clip.json").write_text(json.dumps(info))
        return 0
    make_clips(args.out, args.count, args.seconds, args.blender_python, args.first_seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
