"""The soundtrack of a clip: modal impacts, scrapes, pops, beeps and hums, mixed in mono.

Every sound starts at the sample of the frame its event happens on. An impact is the object's
impulse response (a sum of exponentially damped sinusoids with material-specific frequency
ratios, decay times and gains, pitched by the object's size, plus a short contact click),
scaled by the impact strength. Nothing else makes sound: a clip without events is exact silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from mfmjt_core.synth.materials import REFERENCE_SIZE, Material, material
from mfmjt_core.synth.physics import SLIDE_REFERENCE_SPEED, Simulation
from mfmjt_core.synth.scene import ObjectInfo, ScenePlan, SoundEvent, machine_pulse

IMPACT_GAIN = 0.8
COLLISION_GAIN = 0.6  # each of the two objects
FLOOR_RESONANCE_GAIN = 0.2  # the floor's own knock under a floor impact
SCRAPE_GAIN = 0.25
POP_GAIN = 0.45
BEEP_GAIN = 0.25
HUM_GAIN = 0.12
LOUDNESS_EXPONENT = 0.6  # level = strength ** 0.6: soft hits stay audible under loud ones
PEAK = 0.95  # a louder mix is scaled down as a whole
_FADE_S = 0.004  # ramps at the edges of beeps and hums, so they do not click


def frame_sample(frame: int | np.ndarray, fps: Fraction, sample_rate: int) -> np.ndarray | int:
    """Index of the audio sample at the time of `frame` (rounded, half up)."""
    num, den = fps.numerator, fps.denominator
    return (2 * np.asarray(frame, np.int64) * sample_rate * den + num) // (2 * num)


def modal_response(mat: Material, size_px: float, unit: float, sample_rate: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Impulse response of an object, peak-normalised; smaller objects ring higher."""
    rel = (size_px / unit) / REFERENCE_SIZE
    scale = 1.0 / rel
    length = int(min(1.6, 4.0 * max(mat.decays_s) * rel**0.5) * sample_rate)
    t = np.arange(length) / sample_rate
    out = np.zeros(length)
    for ratio, decay, gain in zip(mat.ratios, mat.decays_s, mat.gains):
        f = mat.base_hz * ratio * scale * (1.0 + 0.02 * rng.standard_normal())
        if f >= 0.45 * sample_rate:
            continue
        # cosine phase: radiated pressure jumps at contact, a sharp onset
        out += gain * np.exp(-t / (decay * rel**0.5)) * np.cos(2 * np.pi * f * t)
    n_click = int(0.006 * sample_rate)
    click = rng.standard_normal(n_click) * np.exp(-np.arange(n_click) / (0.0012 * sample_rate))
    if mat.base_hz < 300:  # soft materials: a dull thump, not a tick
        click = np.convolve(click, np.ones(8) / 8, mode="same")
    out[:n_click] += mat.click * click / max(np.abs(click).max(), 1e-9)
    return out / np.abs(out).max()


def _add(out: np.ndarray, start: int, sound: np.ndarray, gain: float) -> None:
    end = min(start + sound.size, out.size)
    if start < end:
        out[start:end] += gain * sound[: end - start]


def _strike(track: np.ndarray, start: int, response: np.ndarray, gain: float,
            sample_rate: int) -> None:
    """Add an impact to one object's track. Contact damps what the object was still ringing
    from earlier hits (a 2 ms fade), so every hit is a clear onset rather than a re-phasing."""
    m = int(0.002 * sample_rate)
    stop = min(start + response.size, track.size)
    choke = np.linspace(1.0, 0.0, m, endpoint=False)[: max(0, stop - start)]
    track[start:start + choke.size] *= choke
    track[start + choke.size:stop] = 0.0
    _add(track, start, response, gain)


def _fade(n: int, sample_rate: int) -> np.ndarray:
    ramp = np.ones(n)
    m = min(int(_FADE_S * sample_rate), n // 2)
    if m > 0:
        ramp[:m] = np.linspace(0, 1, m, endpoint=False)
        ramp[n - m:] = ramp[:m][::-1]
    return ramp


def beep(pitch_hz: float, n: int, sample_rate: int) -> np.ndarray:
    """A lamp's tone for n samples: a sine with a little second harmonic."""
    t = np.arange(n) / sample_rate
    wave = np.sin(2 * np.pi * pitch_hz * t) + 0.25 * np.sin(4 * np.pi * pitch_hz * t)
    return wave / 1.25 * _fade(n, sample_rate)


def pop(sample_rate: int) -> np.ndarray:
    """The sound of an object appearing: a short rising blip."""
    n = int(0.07 * sample_rate)
    t = np.arange(n) / sample_rate
    phase = 2 * np.pi * (700 * t + 0.5 * 9000 * t**2)  # 700 Hz rising to ~1300 Hz
    return np.sin(phase) * np.exp(-t / 0.018)


def hum(pitch_hz: float, pulse_hz: float, n: int, sample_rate: int) -> np.ndarray:
    """A machine's buzz for n samples, throbbing with its light."""
    t = np.arange(n) / sample_rate
    wave = np.zeros(n)
    for k in range(1, 11):
        if k * pitch_hz < 0.45 * sample_rate:
            wave += (1.0 if k % 2 else 0.5) / k * np.sin(2 * np.pi * k * pitch_hz * t)
    wave /= np.abs(wave).max()
    return wave * (0.35 + 0.65 * machine_pulse(t, pulse_hz)) * _fade(n, sample_rate)


def scrape(mat: Material, speed: np.ndarray, fps: Fraction, n_samples: int, sample_rate: int,
           rng: np.random.Generator) -> np.ndarray:
    """Band-passed noise whose level follows the per-frame sliding `speed` (0..1)."""
    out = np.zeros(n_samples)
    active = np.flatnonzero(speed > 0)
    if active.size == 0:
        return out
    num, den = fps.numerator, fps.denominator
    start = int(frame_sample(active[0], fps, sample_rate))
    stop = min(n_samples, int(frame_sample(active[-1] + 1, fps, sample_rate)))
    n = np.arange(start, stop)
    # Hold each frame's speed until the next frame, then smooth over 3 ms (causal).
    env = speed[np.minimum((n * num) // (sample_rate * den), speed.size - 1)]
    width = int(0.003 * sample_rate)
    csum = np.cumsum(np.r_[np.zeros(width), env])
    env = (csum[width:] - csum[:-width]) / width
    noise = rng.standard_normal(stop - start)
    spec = np.fft.rfft(noise)
    f = np.fft.rfftfreq(noise.size, 1.0 / sample_rate)
    band = np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / mat.scrape_hz) / 0.6) ** 2)
    filtered = np.fft.irfft(spec * band, n=noise.size)
    filtered /= max(np.sqrt(np.mean(filtered**2)), 1e-9) * 3.0  # ~unit peak
    out[start:stop] = filtered * env * mat.scrape_gain
    return out


def synthesize(plan: ScenePlan, sim: Simulation, events: Sequence[SoundEvent], n_samples: int,
               sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The mono soundtrack, float32 (n_samples,), of a simulated scene and its `events`
    (bodies' and fixtures'); slides sound from `sim.slide_speed`, frame by frame."""
    out = np.zeros(n_samples)
    fps, u = plan.fps, plan.geometry.unit
    infos: dict[int, ObjectInfo] = {b.info.object_id: b.info for b in plan.bodies}
    infos.update({f.info.object_id: f.info for f in plan.fixtures})
    responses = {b.info.object_id: modal_response(material(b.info.material), b.info.size_px, u,
                                                  sample_rate, rng) for b in plan.bodies}
    floor_knock = modal_response(material(plan.floor_material), 2 * REFERENCE_SIZE * u, u,
                                 sample_rate, rng)
    popped = pop(sample_rate)
    ringing = {oid: np.zeros(n_samples) for oid in responses}  # each body's own vibration
    floor = np.zeros(n_samples)
    for ev in events:
        n0 = int(frame_sample(ev.frame, fps, sample_rate))
        info = infos[ev.object_id]
        if ev.kind == "impact":
            level = ev.strength**LOUDNESS_EXPONENT
            _strike(ringing[ev.object_id], n0, responses[ev.object_id], IMPACT_GAIN * level,
                    sample_rate)
            if ev.surface == "floor":
                _strike(floor, n0, floor_knock, FLOOR_RESONANCE_GAIN * level, sample_rate)
        elif ev.kind == "collision":
            level = ev.strength**LOUDNESS_EXPONENT
            for oid in (ev.object_id, ev.other_id):
                _strike(ringing[oid], n0, responses[oid], COLLISION_GAIN * level, sample_rate)
        elif ev.kind == "appear":
            _add(out, n0, popped, POP_GAIN)
        elif ev.kind in ("flash", "tone"):
            n1 = int(frame_sample(ev.frame + _frames(ev, fps), fps, sample_rate))
            _add(out, n0, beep(info.pitch_hz, n1 - n0, sample_rate), BEEP_GAIN)
        elif ev.kind == "hum":
            n1 = int(frame_sample(ev.frame + _frames(ev, fps), fps, sample_rate))
            _add(out, n0, hum(info.pitch_hz, info.pulse_hz, n1 - n0, sample_rate), HUM_GAIN)
    for track in (*ringing.values(), floor):
        out += track
    slide_ref = SLIDE_REFERENCE_SPEED * u
    for i, body in enumerate(plan.bodies):
        out += SCRAPE_GAIN * scrape(material(body.info.material), sim.slide_speed[i] / slide_ref,
                                    fps, n_samples, sample_rate, rng)
    peak = np.abs(out).max()
    if peak > PEAK:
        out *= PEAK / peak
    return out.astype(np.float32)


def _frames(ev: SoundEvent, fps: Fraction) -> int:
    """Whole frames covered by a sustained event."""
    return round(ev.duration_s * float(fps))
