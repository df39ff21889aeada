"""`mfmjt eval clips`: the evaluation's metrics on a folder of the user's own videos.

Each video's own soundtrack is the reference: onsets are detected in the soundtrack and in the
generated audio with the same detector (`onsets.py`) and matched within the evaluation's
tolerance (±50 ms); the log-mel distance and the Fréchet distance on the fixed embedding
(`embedding.py`, over all 1 s windows of the folder) compare the two; RTF is the wall-clock
time of the whole request through `Generator.generate` per second of audio. The scoring is
`scoring.score_clip`, the function `mfmjt eval synth` uses, with the soundtrack's detected
onsets in place of ground-truth events.

Folders are messy: every regular, non-hidden file is a candidate (top level only unless
`recursive`); a file that is not a video, has no audio track, cannot be decoded, or is longer
than the generator takes is skipped with its reason (a row of the table), never a crash.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from mfmjt_core.errors import MediaError, ResourceError
from mfmjt_core.evaluation.embedding import embed_db
from mfmjt_core.evaluation.metrics import OnsetScore, fit_gaussian, frechet_distance
from mfmjt_core.evaluation.onsets import detect_onsets_db
from mfmjt_core.evaluation.scoring import SAMPLE_RATE, ClipScore, ClipTruth, analysis_db, fit_length_1d, score_clip

# A soundtrack whose peak stays below this is noted as silent (its onsets and distances say little).
SILENT_PEAK_DB = -60.0


class NoUsableClipsError(MediaError):
    """The folder holds no file that can be scored (the message says why for each)."""

    reason = "no_usable_clips"


@dataclass(frozen=True)
class ClipsSettings:
    """What `run_clips` evaluates and how it generates (None: the model's default)."""

    folder: Path
    out: Path
    model: str | None = None  # None: the embedded model; a model file; a published bundle name
    recursive: bool = False
    seed: int = 0
    steps: int | None = None
    guidance: float | None = None
    rescale: str | None = None
    temperature: float | None = None
    prompt: str = ""
    max_seconds: float | None = None  # evaluate only the first N seconds of longer clips
    device: str = "cpu"
    figure_clips: int = 3
    save_audio: bool = True  # write each generated take to OUT/audio/ for listening
    ceiling: bool = True  # also score the soundtrack through the model's codec (what a perfect network gets)
    command: str = ""


@dataclass
class ClipRow:
    """One file of the folder: scored, or skipped with a reason."""

    name: str  # path relative to the folder, with forward slashes
    path: Path
    reason: str = ""  # why it was skipped ("" when scored)
    duration_s: float = 0.0  # seconds evaluated
    file_duration_s: float = 0.0
    media: str = ""  # e.g. "h264 1280x720 29.97 fps, aac 48000 Hz 2 ch"
    notes: tuple[str, ...] = ()
    score: ClipScore | None = None
    ceiling: ClipScore | None = None  # the soundtrack's codec round trip against the soundtrack
    generate_s: float = 0.0
    audio_file: Path | None = None

    @property
    def scored(self) -> bool:
        return self.score is not None

    @property
    def rtf(self) -> float | None:
        return self.generate_s / self.duration_s if self.scored and self.duration_s > 0 else None


@dataclass(frozen=True)
class Aggregate:
    """The folder's row: onsets pooled over clips (as `scoring.summarize` pools), the log-mel
    distance averaged over clips, the Fréchet distance over all windows, RTF = total generation
    time / total audio."""

    clips: int
    seconds: float
    onset: OnsetScore
    mel_l1_db: float
    frechet: float | None  # None: fewer than 2 windows on a side
    windows: int
    rtf: float | None

    def to_json(self) -> dict:
        return {"clips": self.clips, "seconds": self.seconds, "onset_f1": self.onset.f1,
                "onset_precision": self.onset.precision, "onset_recall": self.onset.recall,
                "median_offset_ms": finite_or_none(self.onset.median_abs_offset_ms),
                "soundtrack_onsets": self.onset.n_reference, "generated_onsets": self.onset.n_estimated,
                "matched_onsets": self.onset.n_matched, "mel_l1_db": self.mel_l1_db,
                "frechet": self.frechet, "frechet_windows": self.windows, "rtf": self.rtf}


@dataclass
class ClipsResult:
    settings: ClipsSettings
    model: dict
    sampling: dict
    rows: list[ClipRow]
    aggregate: Aggregate
    ceiling: Aggregate | None  # the soundtracks through the model's codec (None: not measured)
    figure_audio: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (ref, gen)
    seconds: float = 0.0
    torch_threads: int = 0


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# -- finding and checking files ------------------------------------------------------------------

def find_files(folder: Path, *, recursive: bool = False, exclude: Path | None = None) -> list[Path]:
    """Regular, non-hidden files of `folder` (and of its non-hidden subfolders when `recursive`),
    sorted by relative path; anything under `exclude` (the output folder) is left out."""
    folder = Path(folder)
    excluded = exclude.resolve() if exclude is not None else None
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        if excluded is not None and (Path(root).resolve() == excluded or excluded in Path(root).resolve().parents):
            continue
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _describe_media(info) -> str:
    fps = f"{float(info.fps):.4g} fps" if info.fps else "? fps"
    video = f"{info.video_codec} {info.width}x{info.height} {fps}" + (" VFR" if info.variable_frame_rate else "")
    audio = (f", {info.audio_codec} {info.audio_sample_rate} Hz {info.audio_channels} ch" if info.has_audio else "")
    return video + audio


def _reason(exc: Exception, path: Path, name: str) -> str:
    """The error's message with the file's full path shortened to its name in the folder."""
    return str(exc).replace(str(path), name).strip()


def check_file(row: ClipRow, max_seconds: float | None) -> None:
    """Probe `row.path`; fills duration and media, or sets `row.reason` when it cannot be scored."""
    from mfmjt_core.media import probe

    try:
        info = probe(row.path)
    except MediaError as exc:
        row.reason = f"not a readable video: {_reason(exc, row.path, row.name)}"
        return
    if not info.has_video:
        row.reason = "no video stream (an audio file?)"
        return
    row.media = _describe_media(info)
    if not info.has_audio:
        row.reason = "no audio track: nothing to compare with"
        return
    row.file_duration_s = info.duration_s
    row.duration_s = min(info.duration_s, max_seconds) if max_seconds else info.duration_s


# -- scoring against the soundtrack -------------------------------------------------------------

def soundtrack_truth(audio: np.ndarray, index: int = 0, name: str = "") -> ClipTruth:
    """A `ClipTruth` whose onsets are those the evaluation's detector finds in the soundtrack
    (mono, 16 kHz): no don't-care times, no impacts (so no material classifier is needed)."""
    audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    db = analysis_db(audio)
    empty = np.zeros(0, dtype=np.float64)
    return ClipTruth(index, name, audio, db, detect_onsets_db(db), empty, (), ())


def score_against_soundtrack(generated: np.ndarray, truth: ClipTruth) -> ClipScore:
    """`score_clip` of generated mono 16 kHz audio against a soundtrack truth (trimmed or padded
    to the soundtrack's length)."""
    return score_clip(generated, truth, classifier=None)


def aggregate(rows: list[ClipRow], reference_embeddings: list[np.ndarray], *, ceiling: bool = False) -> Aggregate:
    """The folder's row over the scored `rows` (see `Aggregate`); `reference_embeddings` are the
    soundtracks' embeddings in the same order. `ceiling`: the same over the codec round trips
    (no RTF)."""
    scored = [r for r in rows if r.scored]
    scores = [r.ceiling if ceiling else r.score for r in scored]
    if any(s is None for s in scores):
        raise ValueError("a scored clip has no codec round trip")
    pooled = OnsetScore(0, 0, 0)
    for score in scores:
        pooled = pooled + score.onset
    generated = [score.embeddings for score in scores]
    windows = sum(len(e) for e in generated)
    frechet = None
    if windows >= 2 and sum(len(e) for e in reference_embeddings) >= 2:
        frechet = frechet_distance(fit_gaussian(np.concatenate(generated)),
                                   fit_gaussian(np.concatenate(reference_embeddings)))
    seconds = sum(r.duration_s for r in scored)
    return Aggregate(
        clips=len(scored), seconds=seconds, onset=pooled,
        mel_l1_db=float(np.mean([score.mel_l1_db for score in scores])) if scores else float("nan"),
        frechet=frechet, windows=windows,
        rtf=sum(r.generate_s for r in scored) / seconds if seconds > 0 and not ceiling else None)


# -- the run ------------------------------------------------------------------------------------

def _request(settings: ClipsSettings, path: Path | None, duration: float) -> dict:
    # peak_ceiling=None: the evaluation scores the model's raw output, as `eval synth` does
    request = dict(seed=settings.seed, steps=settings.steps, guidance=settings.guidance,
                   rescale=settings.rescale, temperature=settings.temperature, prompt=settings.prompt,
                   sample_rate=SAMPLE_RATE, peak_ceiling=None)
    if path is None:
        return {**request, "duration": duration}
    return {**request, "video": path, "start": 0.0, "end": duration}


def _audio_name(index: int, name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).with_suffix("").as_posix())
    return f"{index:03d}-{stem[-80:]}.wav"


def _score_one(row: ClipRow, index: int, generator, settings: ClipsSettings, audio_dir: Path | None):
    """Read the soundtrack, generate, score; returns (reference audio, generated audio,
    soundtrack embeddings) or sets `row.reason` (a media fault) and returns None."""
    from mfmjt_core.media import read_audio, write_audio

    n = round(row.duration_s * SAMPLE_RATE)
    try:
        reference, _ = read_audio(row.path, start=0.0, end=row.duration_s, sample_rate=SAMPLE_RATE, channels=1)
        # an audio track that ends before the picture is silent after it
        reference = fit_length_1d(reference[0], n)
        t0 = time.perf_counter()
        result = generator.generate(**_request(settings, row.path, row.duration_s))
        row.generate_s = time.perf_counter() - t0
    except ResourceError as exc:
        row.reason = f"{_reason(exc, row.path, row.name)}: use --max-seconds"
        return None
    except MediaError as exc:
        row.reason = f"cannot be decoded: {_reason(exc, row.path, row.name)}"
        return None
    generated = fit_length_1d(result.audio[0, 0], n)
    truth = soundtrack_truth(reference, index, row.name)
    row.score = score_against_soundtrack(generated, truth)
    if settings.ceiling:
        row.ceiling = score_against_soundtrack(codec_round_trip(generator, reference), truth)
    peak = float(np.abs(reference).max()) if reference.size else 0.0
    notes = []
    if row.duration_s < row.file_duration_s - 1e-6:
        notes.append(f"first {row.duration_s:g} of {row.file_duration_s:.1f} s")
    if peak <= 10 ** (SILENT_PEAK_DB / 20):
        notes.append("silent soundtrack")
    row.notes = tuple(notes)
    if audio_dir is not None:
        row.audio_file = write_audio(audio_dir / _audio_name(index, row.name), generated[None, :], SAMPLE_RATE,
                                     subtype="FLOAT")
    return reference, generated, embed_db(truth.mel_db)


def codec_round_trip(generator, audio: np.ndarray) -> np.ndarray:
    """Mono 16 kHz `audio` encoded and decoded by the generator's codec at its native rate, in
    the generator's overlapping windows (stitched the same way), back at 16 kHz, same length."""
    import torch

    from mfmjt_core.media import resample
    from mfmjt_core.media.levels import within_full_scale
    from mfmjt_core.pipeline.generator import WINDOW_OVERLAP_S
    from mfmjt_core.pipeline.windows import plan_windows, stitch, window_samples

    codec = generator.model.codec
    native = codec.sample_rate
    x = audio if native == SAMPLE_RATE else resample(audio[None], SAMPLE_RATE, native)[0]
    windows = plan_windows(audio.size / SAMPLE_RATE, generator.model.spec.window_s, WINDOW_OVERLAP_S)
    pieces = []
    with torch.no_grad():
        for w in windows:
            begin, count = window_samples(w, native)
            segment = torch.from_numpy(np.ascontiguousarray(x[begin:begin + count], dtype=np.float32))
            pieces.append(codec.decode(codec.encode(segment[None].to(generator.device))).float().cpu().numpy()[0])
    y = stitch(pieces, windows, native, x.size)
    y = y if native == SAMPLE_RATE else resample(y[None], native, SAMPLE_RATE)[0]
    return within_full_scale(fit_length_1d(y, audio.size))


def _say(stream, text: str) -> None:
    if stream is not None:
        stream.write(text + "\n")
        stream.flush()


def prepare_out(folder: Path, out: Path, *, create: bool = True) -> Path:
    """Check (and create) the output folder before any work; UsageError when it cannot hold
    the results (a file of that name, the clips folder itself, no permission)."""
    from mfmjt_core.errors import UsageError

    folder, out = Path(folder).expanduser(), Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if folder.is_dir() and out.resolve() == folder.resolve():
        raise UsageError("--out must not be the clips folder itself (its results would become clips)")
    if not create:
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into the output folder {out} (permission denied)")
    return out


def scan(settings: ClipsSettings) -> list[ClipRow]:
    """The folder's files as rows, each probed (skipped ones carry their reason). Raises
    MediaNotFoundError for a missing folder and NoUsableClipsError when nothing can be scored."""
    from mfmjt_core.media.media_errors import MediaNotFoundError

    folder = Path(settings.folder).expanduser()
    if not folder.is_dir():
        raise MediaNotFoundError(f"{folder} is not a folder" + ("" if folder.exists() else " (it does not exist)"))
    out = prepare_out(folder, settings.out, create=False)
    files = find_files(folder, recursive=settings.recursive, exclude=out)
    if not files:
        hint = "" if settings.recursive else " (subfolders are not searched without --recursive)"
        raise NoUsableClipsError(f"no files in {folder}{hint}")
    rows = [ClipRow(p.relative_to(folder).as_posix(), p) for p in files]
    for row in rows:
        check_file(row, settings.max_seconds)
    _require_usable(rows, folder)
    return rows


def _require_usable(rows: list[ClipRow], folder: Path) -> None:
    if any(not r.reason for r in rows):
        return
    listed = "\n".join(f"  {r.name}: {r.reason}" for r in rows[:20])
    more = f"\n  ... and {len(rows) - 20} more" if len(rows) > 20 else ""
    raise NoUsableClipsError(f"no usable clip in {folder} (a video with an audio track is needed):\n{listed}{more}")


def run_clips(settings: ClipsSettings, *, progress_stream=None, quiet: bool = False) -> ClipsResult:
    """Evaluate the model on the folder's videos (see the module docstring). Progress, one line
    per clip, goes to `progress_stream` (default: standard error) unless `quiet`."""
    import torch

    from mfmjt_core.evaluation.runner import describe_model
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL, Generator

    t_start = time.perf_counter()
    progress_stream = None if quiet else progress_stream or sys.stderr
    rows = scan(settings)
    out = prepare_out(settings.folder, settings.out)
    generator = Generator.load(settings.model, device=settings.device)  # a bad model fails before any output
    usable = [r for r in rows if not r.reason]
    _say(progress_stream, f"{len(rows)} file(s) in {settings.folder}: {len(usable)} video(s) with sound, "
                          f"{len(rows) - len(usable)} skipped")
    model = describe_model(generator, str(settings.model or EMBEDDED_MODEL))
    sampling = generator.model.spec.defaults.resolve(SimpleNamespace(
        steps=settings.steps, guidance=settings.guidance, rescale=settings.rescale,
        temperature=settings.temperature))
    sampling = {"steps": sampling.steps, "guidance": sampling.guidance, "rescale": sampling.rescale,
                "temperature": sampling.temperature, "seed": settings.seed, "prompt": settings.prompt}
    _say(progress_stream, f"model {generator.name}: {sampling['steps']} step(s), guidance {sampling['guidance']:g} "
                          f"({sampling['rescale']}), temperature {sampling['temperature']:g}, seed {settings.seed}")
    # one short untimed request first, so the first clip's RTF does not pay for kernel warm-up
    generator.generate(**_request(settings, None, 1.0))
    audio_dir = out / "audio" if settings.save_audio else None
    if audio_dir is not None:
        audio_dir.mkdir(parents=True, exist_ok=True)
    figure_audio: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    reference_embeddings = []
    for k, row in enumerate(rows, start=1):
        prefix = f"[{k}/{len(rows)}] {row.name}"
        if not row.reason:
            scored = _score_one(row, k, generator, settings, audio_dir)
            if scored is not None:
                reference, generated, embeddings = scored
                reference_embeddings.append(embeddings)
                if len(figure_audio) < settings.figure_clips:
                    figure_audio[row.name] = (reference, generated)
                s = row.score
                _say(progress_stream, f"{prefix} ({row.duration_s:.2f} s): onset F1 {s.onset.f1:.3f} "
                                      f"({s.onset.n_matched} of {s.onset.n_reference} soundtrack onsets matched, "
                                      f"{s.onset.n_estimated} generated), log-mel L1 {s.mel_l1_db:.1f} dB, "
                                      f"RTF {row.rtf:.3f}")
                continue
        _say(progress_stream, f"{prefix}: skipped: {row.reason}")
    _require_usable(rows, Path(settings.folder))  # every video failed to decode
    ceiling = aggregate(rows, reference_embeddings, ceiling=True) if settings.ceiling else None
    return ClipsResult(settings, model, sampling, rows, aggregate(rows, reference_embeddings), ceiling, figure_audio,
                       time.perf_counter() - t_start, torch.get_num_threads())
