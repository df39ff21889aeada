"""Writing `mfmjt eval clips`: results.md (one row per file and the folder's row), results.json
and the mel figure (soundtrack vs generated), each file written atomically."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from mfmjt_core.evaluation.clips import Aggregate, ClipRow, ClipsResult, finite_or_none
from mfmjt_core.evaluation.embedding import DIM as EMBEDDING_DIM
from mfmjt_core.evaluation.metrics import ONSET_TOLERANCE_S
from mfmjt_core.evaluation.report import _num, _table

FIGURE_NAME = "mel_spectrograms.png"
ONSET_KIND = "soundtrack onset"
_HEAD = ["clip", "length (s)", "video", "soundtrack onsets", "generated onsets", "onset F1", "precision",
         "recall", "median offset (ms)", "log-mel L1 (dB)", "Fréchet dist.", "RTF", "notes"]


def _cell(text: str) -> str:
    """Markdown table cell text (a file name may hold a bar)."""
    return text.replace("|", "\\|").replace("\n", " ")


def _row_cells(row: ClipRow) -> list[str]:
    if not row.scored:
        return [f"`{_cell(row.name)}`", "–", _cell(row.media) or "–", *["–"] * 9,
                f"skipped: {_cell(row.reason)}"]
    s = row.score
    return [f"`{_cell(row.name)}`", f"{row.duration_s:.2f}", _cell(row.media), str(s.onset.n_reference),
            str(s.onset.n_estimated), _num(s.onset.f1, 3), _num(s.onset.precision, 3), _num(s.onset.recall, 3),
            _num(s.onset.median_abs_offset_ms, 1), _num(s.mel_l1_db, 2), "–", _num(row.rtf, 3),
            _cell("; ".join(row.notes))]


def _aggregate_cells(a: Aggregate, title: str, note: str) -> list[str]:
    return [title, f"{a.seconds:.2f}", "", str(a.onset.n_reference),
            str(a.onset.n_estimated), _num(a.onset.f1, 3), _num(a.onset.precision, 3), _num(a.onset.recall, 3),
            _num(a.onset.median_abs_offset_ms, 1), _num(a.mel_l1_db, 2), _num(a.frechet, 1), _num(a.rtf, 3), note]


def render_markdown(result: ClipsResult) -> str:
    """The report as Markdown."""
    st, m, smp = result.settings, result.model, result.sampling
    scored = [r for r in result.rows if r.scored]
    skipped = len(result.rows) - len(scored)
    digest = f", sha256 {m['sha256'][:16]}" if "sha256" in m else ""
    prompt = f"prompt {smp['prompt']!r}" if smp["prompt"] else "no prompt (video only)"
    limit = f"; only the first {st.max_seconds:g} s of longer clips" if st.max_seconds else ""
    lines = ["# Evaluation on your clips", "",
             f"Made by `{st.command or 'run_clips(...)'}` on {time.strftime('%Y-%m-%d %H:%M')} "
             f"({platform.machine()}, {platform.system()}, python {platform.python_version()}, device "
             f"{st.device}, {result.torch_threads} torch thread(s)) in {result.seconds / 60:.1f} min.", "",
             f"- Model: `{m['source']}` ({m['name']}{digest}); objective {m['objective']}, "
             f"{m['parameters']:,} network parameters.",
             f"- Sampling: {smp['steps']} step(s), guidance {smp['guidance']:g} ({smp['rescale']}), temperature "
             f"{smp['temperature']:g}, seed {smp['seed']}, {prompt}; raw output (no peak ceiling).",
             f"- Folder: `{st.folder}` ({'with subfolders' if st.recursive else 'top level only'}): "
             f"{len(result.rows)} file(s), {len(scored)} scored, {skipped} skipped{limit}.", ""]
    a = result.aggregate
    rows = [_row_cells(r) for r in result.rows]
    rows.append(_aggregate_cells(a, f"**all {a.clips} clip(s)**",
                                 f"pooled onsets; mean log-mel L1; Fréchet over {a.windows} windows"))
    if result.ceiling is not None:
        rows.append(_aggregate_cells(result.ceiling, "*soundtracks through the model's codec*",
                                     "ceiling: what a perfect network would score through this codec"))
    lines += _table(_HEAD, rows)
    if result.figure_audio:
        lines += ["", f"![mel spectrograms: soundtrack vs generated]({FIGURE_NAME})"]
    if st.save_audio:
        lines += ["", "Generated takes: `audio/` beside this file (16 kHz mono float WAV, numbered as the "
                      "clips are listed)."]
    lines += ["", "## How the numbers are made", "",
              "- Reference: each video's own soundtrack (its first audio track, mixed to mono, resampled to "
              "16 kHz; silence after its end when it is shorter than the picture). Generation: "
              "`Generator.generate` on the range [0, length) of the video, as `mfmjt generate` does (long "
              "clips in overlapping windows), at 16 kHz without the peak ceiling.",
              f"- Onsets: the evaluation's detector (`mfmjt_core/evaluation/onsets.py`: log-mel spectral "
              f"flux, adaptive threshold, peak picking) runs on both the soundtrack and the generated audio; "
              f"pairs within ±{ONSET_TOLERANCE_S * 1000:.0f} ms, one-to-one, most pairs then least total "
              "offset. Per clip: F1, precision, recall and median |offset|; the folder's row pools the "
              "matches over clips. The soundtrack's onsets are detections, not ground truth: dialogue, "
              "music and noise make onsets no picture explains.",
              "- Log-mel L1: mean absolute difference in dB of 64-band mel spectrograms (30 Hz-8 kHz, floor "
              "-80 dB) of the generated audio and the soundtrack; it depends on level, and the folder's row "
              "is the mean over clips.",
              f"- Fréchet distance: between Gaussian fits of the fixed {EMBEDDING_DIM}-number mel-statistics "
              "embedding (`embedding.py`, not VGGish/PANNs) of all 1 s windows (hop 0.5 s) of the generated "
              "audio and of the soundtracks, over the whole folder. With fewer windows than "
              f"{EMBEDDING_DIM + 1} the covariances are singular: compare values only between runs on the "
              "same folder.",
              "- RTF: wall-clock seconds of the whole request (probe, video decoding and encoding, sampling, "
              "audio decoding, resampling) per second of audio; the folder's row is total time over total "
              "audio. One short untimed request warms the model up first.",
              "- Codec ceiling (last row, unless `--no-ceiling`): each soundtrack encoded and decoded by the "
              "model's own codec (in the generator's windows) and scored like generated audio: the best a "
              "network could reach through this codec.",
              "- Skipped: files that are not videos, videos without an audio track, files that cannot be "
              "decoded, and clips longer than the generator takes (`--max-seconds` evaluates their start)."]
    return "\n".join(lines) + "\n"


def to_json(result: ClipsResult) -> dict:
    st = result.settings
    clips = []
    for r in result.rows:
        entry = {"name": r.name, "status": "scored" if r.scored else "skipped", "media": r.media}
        if r.scored:
            s = r.score
            entry.update(duration_s=r.duration_s, file_duration_s=r.file_duration_s, onset_f1=s.onset.f1,
                         onset_precision=s.onset.precision, onset_recall=s.onset.recall,
                         median_offset_ms=finite_or_none(s.onset.median_abs_offset_ms),
                         soundtrack_onsets=s.onset.n_reference, generated_onsets=s.onset.n_estimated,
                         matched_onsets=s.onset.n_matched, mel_l1_db=s.mel_l1_db, rtf=r.rtf,
                         generate_s=r.generate_s, windows=len(s.embeddings), notes=list(r.notes),
                         audio=r.audio_file.name if r.audio_file else None)
            if r.ceiling is not None:
                entry.update(ceiling_onset_f1=r.ceiling.onset.f1, ceiling_mel_l1_db=r.ceiling.mel_l1_db)
        else:
            entry["reason"] = r.reason
        clips.append(entry)
    return {"command": st.command,
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in st.__dict__.items()},
            "model": result.model, "sampling": result.sampling, "tolerance_s": ONSET_TOLERANCE_S,
            "clips": clips, "aggregate": result.aggregate.to_json(),
            "codec_ceiling": result.ceiling.to_json() if result.ceiling is not None else None,
            "seconds": result.seconds,
            "torch_threads": result.torch_threads}


def render_figure_for(result: ClipsResult):
    """The mel figure (uint8 RGB) of the first scored clips, or None when there is none."""
    from mfmjt_core.evaluation.figure import FigureRow, render_figure

    if not result.figure_audio:
        return None
    rows = []
    by_name = {r.name: r for r in result.rows}
    for name, (reference, generated) in result.figure_audio.items():
        row = by_name[name]
        s = row.score
        truth_onsets = _detected(reference)
        title = f"{name} ({row.duration_s:.1f} s): onset F1 {s.onset.f1:.2f}, log-mel L1 {s.mel_l1_db:.1f} dB"
        rows.append(FigureRow(title, tuple((float(t), ONSET_KIND) for t in truth_onsets), row.duration_s,
                              (reference, generated)))
    return render_figure(rows, ["soundtrack", "generated"],
                         title="your clips; lines: onsets detected in the soundtrack",
                         colours={ONSET_KIND: (255, 255, 255)})


def _detected(audio):
    from mfmjt_core.evaluation.onsets import detect_onsets_db
    from mfmjt_core.evaluation.scoring import analysis_db

    return detect_onsets_db(analysis_db(audio))


def write_clips_report(result: ClipsResult) -> dict[str, Path]:
    """Write results.md, results.json and the figure into the output folder, each atomically
    (a reader never sees a half-written file); returns their paths."""
    from mfmjt_core.evaluation.raster import write_png
    from mfmjt_core.media.atomic import atomic_output, write_bytes

    out = Path(result.settings.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    image = render_figure_for(result)
    if image is not None:
        with atomic_output(out / FIGURE_NAME) as temp:
            write_png(temp, image)
        paths["figure"] = out / FIGURE_NAME
    for kind, name, text in (("json", "results.json", json.dumps(to_json(result), indent=1, default=float)),
                             ("markdown", "results.md", render_markdown(result))):
        with atomic_output(out / name) as temp:
            write_bytes(temp, text.encode("utf-8"), out / name)
        paths[kind] = out / name
    return paths
