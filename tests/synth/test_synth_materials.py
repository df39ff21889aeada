"""Materials differ by ear (modal timbre) and by eye (colour and texture)."""

from __future__ import annotations

import numpy as np

from mfmjt_core.synth import MATERIALS, WorldConfig, make_clip
from mfmjt_core.synth.materials import material
from mfmjt_core.synth.render import body_sprite
from mfmjt_core.synth.scene import ObjectInfo
from mfmjt_core.synth.sound import modal_response

SR = 16_000


def _response(name: str, size: float = 14.0) -> np.ndarray:
    return modal_response(material(name), size, 1.0, SR, np.random.Generator(np.random.PCG64(0)))


def _centroid(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(x.size, 1 / SR)
    return float((f * spec).sum() / spec.sum())


def _ring_time(x: np.ndarray) -> float:
    """Seconds until the envelope falls 40 dB below its peak."""
    env = np.abs(x)
    loud = np.flatnonzero(env > env.max() * 0.01)
    return loud[-1] / SR


def test_timbre_orders_materials():
    centroid = {m: _centroid(_response(m)) for m in MATERIALS}
    assert centroid["glass"] > centroid["metal"] > centroid["wood"] > centroid["rubber"]
    ring = {m: _ring_time(_response(m)) for m in MATERIALS}
    assert ring["metal"] > ring["glass"] > 3 * ring["wood"]
    assert ring["wood"] > ring["rubber"]
    assert ring["metal"] > 0.5 and ring["rubber"] < 0.2


def test_smaller_objects_ring_higher():
    def peak_hz(x):
        spec = np.abs(np.fft.rfft(x))
        return np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(spec)]

    for m in MATERIALS:
        assert peak_hz(_response(m, 10)) > 1.5 * peak_hz(_response(m, 20))


def test_responses_are_damped_partials_at_material_ratios():
    mat = material("metal")
    x = _response("metal", 14.0)
    spec = np.abs(np.fft.rfft(x, 4 * x.size))
    f = np.fft.rfftfreq(4 * x.size, 1 / SR)
    for ratio in mat.ratios[:3]:
        target = mat.base_hz * ratio
        band = (f > target * 0.92) & (f < target * 1.08)
        assert spec[band].max() > 20 * np.median(spec)  # a partial within the 2% jitter


def test_sprites_carry_material_cues():
    looks = {}
    for m in MATERIALS:
        rgb, alpha = body_sprite(ObjectInfo(0, "cube", m, 16, "rest", 0))
        looks[m] = (rgb.reshape(-1, 3), alpha)
    rubber = looks["rubber"][0].mean(0)
    assert rubber[0] > 2 * rubber[1] and rubber.max() < 140  # dark red
    metal = looks["metal"][0]
    assert np.ptp(metal.mean(0)) < 20 and metal.max() > 240  # grey with a white highlight
    wood_rows = looks["wood"][0].reshape(16, 16, 3)[1:-1, 1:-1].mean(axis=(1, 2))
    assert np.ptp(wood_rows) > 25  # stripes
    glass_rgb, glass_alpha = looks["glass"]
    assert glass_alpha[4:-4, 4:-4].max() < 0.8  # see-through
    assert glass_rgb.mean(0)[2] > glass_rgb.mean(0)[0]  # cyan


def test_material_can_be_read_from_rendered_pixels():
    """A nearest-colour rule on the pixels of each object identifies its material."""
    refs = {m: np.array(material(m).colour, float) for m in MATERIALS}
    correct = total = 0
    for seed in range(8):
        clip = make_clip(seed, config=WorldConfig(p_lamp=0, p_machine=0, p_balloon=0))
        for info in clip.objects:
            if info.kind not in ("ball", "cube"):
                continue
            k = int(np.flatnonzero(clip.visible[info.object_id])[-1])
            x, y = clip.positions[info.object_id, k]
            r = max(2, info.size_px // 4)
            patch = clip.frames[k, int(y) - r:int(y) + r, int(x) - r:int(x) + r].reshape(-1, 3)
            colour = np.median(patch, axis=0)
            guess = min(refs, key=lambda m: np.linalg.norm(refs[m] - colour))
            correct += guess == info.material
            total += 1
    assert total >= 12 and correct / total >= 0.9
