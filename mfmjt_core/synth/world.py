"""Public API of the synthetic world: configuration, clips, seeds and splits.

`make_clip(seed)` is a pure function of the seed and the configuration: every random draw comes
from `numpy.random.Generator(PCG64(seed))` (split into independent streams for the scene, the
sound and the caption), so the same seed gives bit-identical frames, audio and caption.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from mfmjt_core.synth.captions import make_caption
from mfmjt_core.synth.physics import Simulation, simulate
from mfmjt_core.synth.render import render
from mfmjt_core.synth.scene import ObjectInfo, ScenePlan, SoundEvent, fixture_events, sample_scene
from mfmjt_core.synth.sound import synthesize
from mfmjt_core.synth.vocab import EVENT_KINDS
from mfmjt_core.synth.world_config import DEFAULT, SynthError, WorldConfig

# Default kinds of `Clip.onsets`: every event kind (a sound that starts).
DEFAULT_ONSET_KINDS: tuple[str, ...] = EVENT_KINDS
# Seeds of each split: disjoint ranges of SPLIT_SIZE seeds.
SPLIT_SIZE = 10_000_000
SPLIT_OFFSETS: dict[str, int] = {"train": 0, "val": SPLIT_SIZE, "test": 2 * SPLIT_SIZE}




@dataclass(frozen=True)
class Clip:
    """One clip of the world with its ground truth."""

    seed: int
    frames: np.ndarray | None  # uint8 (T, H, W, 3); None when made with with_frames=False
    fps: Fraction
    audio: np.ndarray  # float32 (N,), mono, N = round(duration_s * sample_rate)
    sample_rate: int
    caption: str
    events: tuple[SoundEvent, ...]  # sorted by time
    objects: tuple[ObjectInfo, ...]  # bodies first (their ids index positions), then fixtures
    positions: np.ndarray  # float32 (n_bodies, T, 2): centre (x, y) of each ball/cube per frame
    visible: np.ndarray  # bool (n_bodies, T)
    scene: ScenePlan = field(repr=False)
    duration_s: float = 8.0

    @property
    def n_frames(self) -> int:
        """Number of video frames T."""
        return self.scene.n_frames

    def frame_times(self) -> np.ndarray:
        """Time in seconds at which each frame is shown."""
        return np.arange(self.n_frames) / float(self.fps)

    def onsets(self, kinds: Sequence[str] = DEFAULT_ONSET_KINDS, *,
               include_start: bool = False) -> np.ndarray:
        """Sorted unique onset times (s) of events of `kinds`. Sources already sounding at the
        first frame have no audible onset and are left out unless `include_start`."""
        times = {e.time_s for e in self.events
                 if e.kind in kinds and (include_start or e.frame > 0)}
        return np.array(sorted(times), dtype=np.float64)

    def impact_materials(self, kinds: Sequence[str] = ("impact",)) -> list[tuple[float, str]]:
        """(time_s, material) of each impact; for collisions both materials, one row each."""
        rows = []
        names = {o.object_id: o.material for o in self.objects}
        for e in self.events:
            if e.kind in kinds:
                rows.append((e.time_s, e.material))
                if e.kind == "collision":
                    rows.append((e.time_s, names[e.other_id]))
        return rows


def clip_fps(seed: int, config: WorldConfig = DEFAULT) -> Fraction:
    """The frame rate `make_clip(seed, config=config)` will use."""
    return _streams(seed, config)[0]


def _streams(seed: int, config: WorldConfig):
    # Same streams as Generator(PCG64(seed)).spawn(3), written to work on numpy < 1.25 too.
    seq = np.random.SeedSequence(seed)
    root = np.random.Generator(np.random.PCG64(seq))
    scene_rng, sound_rng, caption_rng = (np.random.Generator(np.random.PCG64(s))
                                         for s in seq.spawn(3))
    if config.fps is not None:
        fps = Fraction(config.fps)
    else:
        fps = config.fps_choices[int(root.integers(len(config.fps_choices)))]
    return fps, scene_rng, sound_rng, caption_rng


def make_clip(seed: int, *, config: WorldConfig = DEFAULT, with_frames: bool = True) -> Clip:
    """Generate clip `seed` of the world; `with_frames=False` skips drawing (for audio/text)."""
    if seed < 0:
        raise SynthError(f"seeds are non-negative integers, got {seed}")
    fps, scene_rng, sound_rng, caption_rng = _streams(seed, config)
    plan = sample_scene(scene_rng, config, fps)
    sim = simulate(plan)
    events = tuple(sorted(sim.events + tuple(fixture_events(plan)),
                          key=lambda e: (e.frame, e.object_id, e.kind)))
    n_samples = round(config.duration_s * config.sample_rate)
    audio = synthesize(plan, sim, events, n_samples, config.sample_rate, sound_rng)
    objects = tuple(b.info for b in plan.bodies) + tuple(f.info for f in plan.fixtures) + tuple(
        b.info for b in plan.balloons)
    return Clip(
        seed=seed,
        frames=render(plan, sim) if with_frames else None,
        fps=fps,
        audio=audio,
        sample_rate=config.sample_rate,
        caption=make_caption(plan, events, caption_rng),
        events=events,
        objects=objects,
        positions=sim.positions,
        visible=sim.visible,
        scene=plan,
        duration_s=config.duration_s,
    )


def neutral_frames(clip: Clip) -> np.ndarray:
    """The clip's frames with every ball and cube drawn in one look that is no material's
    (uint8 (T, H, W, 3)): the same scene, motion and timing, its material left to the caption."""
    tracks = Simulation(clip.positions, clip.visible, np.zeros(clip.visible.shape, np.float32), ())
    return render(clip.scene, tracks, neutral_bodies=True)


def split_seeds(split: str, n: int, *, start: int = 0) -> list[int]:
    """Seeds `start .. start+n-1` of a split ("train", "val" or "test"); splits are disjoint."""
    if split not in SPLIT_OFFSETS:
        raise SynthError(f"unknown split {split!r}; known: {sorted(SPLIT_OFFSETS)}")
    if n < 0 or start < 0 or start + n > SPLIT_SIZE:
        raise SynthError(f"a split has seeds 0..{SPLIT_SIZE - 1}; asked {start}..{start + n - 1}")
    base = SPLIT_OFFSETS[split] + start
    return list(range(base, base + n))


def iter_clips(split: str, n: int, config: WorldConfig = DEFAULT, *, start: int = 0,
               with_frames: bool = True) -> Iterator[Clip]:
    """Clips of a split, one at a time (constant memory)."""
    for seed in split_seeds(split, n, start=start):
        yield make_clip(seed, config=config, with_frames=with_frames)


def _make_for_pool(args: tuple[int, WorldConfig, bool]) -> Clip:
    seed, config, with_frames = args
    return make_clip(seed, config=config, with_frames=with_frames)


def make_clips(seeds: Sequence[int], config: WorldConfig = DEFAULT, *, workers: int = 1,
               with_frames: bool = True) -> list[Clip]:
    """Many clips, in `workers` processes when > 1; identical to calling make_clip per seed."""
    jobs = [(int(s), config, with_frames) for s in seeds]
    if workers <= 1 or len(jobs) < 2:
        return [_make_for_pool(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_make_for_pool, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
