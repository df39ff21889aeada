"""`run_eval`: the whole comparison on test clips of the world, with a cache of generated audio.

Generated audio is cached per (model, run, clip) as float WAV under `<out>/cache/<model key>/
<run key>/<seed>-<clip hash>.wav` (the model key includes a hash of the model file, the run key
a hash of everything that changes the audio, the clip hash one of the clip's metadata), so a
re-run only scores. Real-time factors are measured
with the product path (`Generator.generate`, one request at a time, a fresh feature cache so
video decoding and encoding count, text cache cleared) on the first `rtf_clips` clips, whose
audio is then scored with the rest (the other clips are generated in batches), and cached
beside the audio with the time and thread count of the measurement (`remeasure_rtf`
measures again, e.g. on a quieter machine).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mfmjt_core.evaluation.batched import BatchGenerator, ClipInput, Sampling
from mfmjt_core.evaluation.grid import RunConfig, select
from mfmjt_core.evaluation.references import (
    TestClip,
    codec_round_trip,
    load_or_fit_classifier,
    prepare_clips,
    train_floor_gaussian,
)
from mfmjt_core.evaluation.run_progress import EtaProgress
from mfmjt_core.evaluation.scoring import (
    SAMPLE_RATE,
    ClipScore,
    Summary,
    reference_gaussian,
    score_clip,
    summarize,
)

CACHE_VERSION = 1
# Relative cost of one network evaluation per clip vs. one codec decode (for the ETA only).
_EVAL_COST, _DECODE_COST = 0.06, 1.0


@dataclass(frozen=True)
class EvalSettings:
    """What `run_eval` compares and where it writes."""

    model: str  # MeanFlow model: a .safetensors path or "tiny-random"
    baseline: str | None = None  # flow-matching model; None: MeanFlow rows only
    clips: int = 160  # 32 clips left material accuracy +-0.1 on another draw (docs/evaluation.md, "How sure")
    out: Path = Path("docs/eval")
    configs: tuple[str, ...] = ("default",)
    guidance: float | None = None  # scale of guided runs; None: each model's default
    temperature: float | None = None  # scale of the starting noise; None: each model's default
    rtf_clips: int = 2
    figure_clips: int = 3
    material_train_clips: int = 600
    batch_size: int = 16
    start: int = 0  # index of the first clip in the split
    split: str = "test"  # "val" for choosing settings, "test" for reported numbers
    remeasure_rtf: bool = False  # ignore cached real-time factors
    command: str = ""  # the command line that made the report


@dataclass
class RunResult:
    """One row of the table."""

    config: RunConfig
    model: str
    objective: str
    guidance_scale: float
    temperature: float
    summary: Summary
    rtf: float | None
    rtf_timings: dict
    generate_s_per_clip: float | None  # batched generation time per clip (None: all cached)
    clip_scores: list[dict]
    audio_files: dict[int, Path]  # seed -> cached WAV


@dataclass
class EvalResult:
    settings: EvalSettings
    models: dict[str, dict]
    clips: list[TestClip]
    classifier_info: dict
    reference: Summary
    codec: Summary
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_model(generator, source: str) -> dict:
    """What the report says about a model (and the key of its cache folder)."""
    path = Path(source)
    spec = generator.model.spec
    info = {"source": source, "name": generator.name, "objective": spec.objective,
            "defaults": dataclasses.asdict(spec.defaults),
            "training": spec.training,
            "parameters": int(sum(p.numel() for p in generator.model.net.parameters()))}
    if path.suffix == ".safetensors" and path.exists():
        info["sha256"] = _file_hash(path)
        info["key"] = f"{path.stem}-{info['sha256'][:12]}"
    else:
        info["key"] = str(source).replace("/", "_")
    return info


def _run_key(config: RunConfig, scale: float, temperature: float, duration: float, median_frames: int = 1) -> str:
    data = json.dumps([CACHE_VERSION, config.steps, config.rescale, scale, config.modality, duration,
                       SAMPLE_RATE, "seed=clip seed"] + ([] if temperature == 1.0 else [temperature])
                      + ([] if median_frames == 1 else [f"median={median_frames}"]))
    return f"{config.name}-{hashlib.sha256(data.encode()).hexdigest()[:10]}"


def read_wav(path: Path) -> np.ndarray | None:
    """Cached mono 16 kHz audio, or None when absent, unreadable or at another rate."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError):
        return None
    return data[:, 0].copy() if rate == SAMPLE_RATE else None


def _write_wav(path: Path, audio: np.ndarray) -> None:
    from mfmjt_core.media import write_audio

    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio(path, np.nan_to_num(audio)[None, :], SAMPLE_RATE, subtype="FLOAT")


def _to_eval_rate(audio: np.ndarray, native: int) -> np.ndarray:
    if native == SAMPLE_RATE:
        return audio
    from mfmjt_core.media import resample

    return resample(audio[None, :], native, SAMPLE_RATE)[0]


def _request(item: ClipInput, config: RunConfig, scale: float, temperature: float = 1.0) -> dict:
    # peak_ceiling=None: the evaluation scores the model's raw output, not the level-adjusted one
    kwargs = dict(seed=item.seed, steps=config.steps, guidance=scale, rescale=config.rescale,
                  temperature=temperature, sample_rate=SAMPLE_RATE, peak_ceiling=None)
    if config.modality in ("video", "both"):
        kwargs.update(video=item.video, end=item.duration)
    else:
        kwargs.update(duration=item.duration)
    if config.modality in ("text", "both"):
        kwargs["prompt"] = item.caption
    return kwargs


def measure_rtf(generator, config: RunConfig, scale: float, temperature: float,
                items: Sequence[ClipInput]) -> tuple[dict, list[np.ndarray]]:
    """Real-time factor of whole single-request generations (median over `items`), and the
    audio generated (mono, 16 kHz), which the evaluation then scores like the batched audio."""
    from mfmjt_core.pipeline.features import FeatureCache

    factors, stages, audio = [], {}, []
    for item in items:
        generator.cache = FeatureCache()  # decode and encode the video as a new request would
        generator.model.encoders.clear_text_cache()
        t0 = time.perf_counter()
        result = generator.generate(**_request(item, config, scale, temperature))
        factors.append((time.perf_counter() - t0) / item.duration)
        audio.append(result.audio[0, 0])
        for k, v in result.timings.items():
            stages[k] = stages.get(k, 0.0) + v / len(items)
    summary = {"rtf": statistics.median(factors) if factors else None, "per_clip": factors, "timings": stages}
    return summary, audio


def _units(config: RunConfig, n_clips: int) -> float:
    evals = config.steps * (1 if config.guidance == "off" else 2)
    return n_clips * (evals * _EVAL_COST + _DECODE_COST)


def _evaluate_run(config, generator, batcher, info, clips, scale, temperature, settings, classifier, ref_gauss,
                  progress) -> RunResult:
    # the model's own median window for the modality, as the generator applies it (not a request setting)
    median_frames = generator.model.spec.defaults.median_frames_for(config.modality != "text")
    folder = settings.out / "cache" / info["key"] / _run_key(config, scale, temperature, clips[0].duration_s,
                                                             median_frames)
    items = [ClipInput(c.truth.seed, c.video, c.truth.caption, c.duration_s) for c in clips]
    files = {c.truth.seed: folder / f"{c.truth.seed}-{c.fingerprint}.wav" for c in clips}
    audio: dict[int, np.ndarray] = {}
    for c in clips:
        cached = read_wav(files[c.truth.seed])
        if cached is not None:
            audio[c.truth.seed] = cached
    if len(audio):
        progress.advance(_units(config, len(audio)), f"{config.name} (cached)")
    timing_file = folder / "rtf.json"
    timing = json.loads(timing_file.read_text()) if timing_file.exists() else None
    if timing is None or timing.get("clips") != settings.rtf_clips or settings.remeasure_rtf:
        import torch

        timed = items[:settings.rtf_clips]
        measured, timed_audio = measure_rtf(generator, config, scale, temperature, timed)
        for it, wave in zip(timed, timed_audio):  # the product path's audio is as good as any
            if it.seed not in audio:
                audio[it.seed] = wave
                _write_wav(files[it.seed], wave)
                progress.advance(_units(config, 1), f"{config.name} {len(audio)}/{len(items)}")
        timing = {"clips": settings.rtf_clips, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "torch_threads": torch.get_num_threads(), **measured}
        folder.mkdir(parents=True, exist_ok=True)
        timing_file.write_text(json.dumps(timing, indent=1))
    progress.advance(_units(config, settings.rtf_clips), f"{config.name} rtf")
    missing = [it for it in items if it.seed not in audio]
    per_clip = None
    sampling = Sampling(config.steps, scale, config.rescale, config.modality, temperature, median_frames)
    native = generator.model.codec.sample_rate
    if missing:
        t0 = time.perf_counter()
        for k in range(0, len(missing), batcher.batch_size):
            chunk = missing[k:k + batcher.batch_size]
            for it, wave in zip(chunk, batcher.generate(chunk, sampling)):
                audio[it.seed] = _to_eval_rate(wave, native)
                _write_wav(files[it.seed], audio[it.seed])
            progress.advance(_units(config, len(chunk)), f"{config.name} {len(audio)}/{len(items)}")
        per_clip = (time.perf_counter() - t0) / len(missing)
    scores = [score_clip(audio[c.truth.seed], c.truth, classifier) for c in clips]
    return RunResult(config, info["name"], info["objective"], scale, temperature, summarize(scores, ref_gauss),
                     timing["rtf"], {**timing["timings"], "measured_at": timing.get("measured_at"),
                                     "torch_threads": timing.get("torch_threads")},
                     per_clip, [_clip_json(s) for s in scores], files)


def _clip_json(s: ClipScore) -> dict:
    return {"seed": s.seed, "onset_f1": s.onset.f1, "reference_onsets": s.onset.n_reference,
            "detected_onsets": s.onset.n_estimated, "matched": s.onset.n_matched,
            "material_correct": s.material_correct, "impacts": s.material_total, "mel_l1_db": s.mel_l1_db,
            "heard_material": s.heard_material, "impact_materials": list(s.impact_materials),
            "impact_calls": [[c.material, c.heard, c.sounded] for c in s.impact_calls]}


def run_eval(settings: EvalSettings, *, progress_stream=None) -> EvalResult:
    """Run the comparison described by `settings` (see the package docstring)."""
    from mfmjt_core.pipeline.generator import Generator
    from mfmjt_core.synth import split_seeds

    t_start = time.perf_counter()
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    generators = {"mf": Generator.load(settings.model)}
    if settings.baseline:
        generators["fm"] = Generator.load(settings.baseline)
    sources = {"mf": settings.model, "fm": settings.baseline}
    infos = {k: describe_model(g, sources[k]) for k, g in generators.items()}
    runs = select(settings.configs, default_mode=generators["mf"].model.spec.defaults.rescale,
                  with_baseline="fm" in generators)

    progress = EtaProgress(sum(_units(c, settings.clips + settings.rtf_clips) for c in runs), progress_stream)
    progress.note(f"{len(runs)} runs on {settings.clips} {settings.split} clips; preparing clips, references and the "
                  "material classifier")
    clips = prepare_clips(split_seeds(settings.split, settings.clips, start=settings.start), out / "clips")
    truths = [c.truth for c in clips]
    classifier = load_or_fit_classifier(out, settings.material_train_clips)
    ref_gauss = reference_gaussian(truths)
    reference = [score_clip(t.audio, t, classifier) for t in truths]
    reference_summary = summarize(reference, train_floor_gaussian(len(truths)))
    round_trip = codec_round_trip(generators["mf"].model, [t.audio for t in truths], settings.batch_size)
    codec_summary = summarize([score_clip(a, t, classifier) for a, t in zip(round_trip, truths)], ref_gauss)

    result = EvalResult(settings, infos, clips, classifier.info, reference_summary, codec_summary)
    progress.note(f"reference audio: onset F1 {reference_summary.onset_f1:.3f}, material accuracy "
                  f"{reference_summary.material_accuracy:.3f}; codec round trip: onset F1 "
                  f"{codec_summary.onset_f1:.3f}")
    progress.restart_clock()  # the ETA covers generation only
    batchers = {k: BatchGenerator(g, batch_size=settings.batch_size) for k, g in generators.items()}
    for k, g in generators.items():  # warm up kernels (and the tokenizer) so no measured request pays for them
        g.generate(**_request(ClipInput(0, clips[0].video, "warm up", clips[0].duration_s),
                              RunConfig(k, 1, "off", "both"), 1.0))
    try:
        for config in runs:
            g = generators[config.model]
            has_picture = config.modality != "text"
            scale = (settings.guidance if settings.guidance is not None
                     else g.model.spec.defaults.guidance_for(has_picture))
            scale = 1.0 if config.guidance == "off" else float(scale)
            temperature = (settings.temperature if settings.temperature is not None
                           else g.model.spec.defaults.temperature_for(has_picture))
            run = _evaluate_run(config, g, batchers[config.model], infos[config.model], clips, scale,
                                temperature, settings, classifier, ref_gauss, progress)
            result.runs.append(run)
            s = run.summary
            progress.note(f"{config.name:<24} onset F1 {s.onset_f1:.3f}  "
                          f"offset {s.median_offset_ms:5.1f} ms  "
                          f"material {s.material_accuracy:.2f}  heard {s.heard_material_accuracy:.2f}  "
                          f"FD {s.frechet:8.1f}  RTF {run.rtf or 0:.3f}")
    finally:
        progress.close()
    result.seconds = time.perf_counter() - t_start
    return result
