"""Writing an evaluation: `results.md` (tables, bars, method), `results.json`, the PNG figure."""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from mfmjt_core.evaluation.grid import MODALITIES, guidance_column
from mfmjt_core.evaluation.onsets import DONT_CARE_KINDS, ONSET_KINDS
from mfmjt_core.evaluation.routes import LEDGER_NAME, Route, read_ledger, render_routes
from mfmjt_core.evaluation.runner import EvalResult, RunResult
from mfmjt_core.evaluation.scoring import Summary
from mfmjt_core.evaluation.uncertainty import STATISTICS, paired, paired_table

FIGURE_NAME = "mel_spectrograms.png"
_MODALITY_TITLES = {"video": "Video-to-audio (video only, no prompt)",
                    "text": "Text-to-audio (caption only, no video)",
                    "both": "Video + text (video and caption)"}


def _num(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _metric_cells(s: Summary) -> list[str]:
    return [_num(s.onset_f1, 3), _num(s.onset_precision, 3), _num(s.onset_recall, 3),
            _num(s.median_offset_ms, 1), _num(s.material_accuracy, 3), _heard(s), _num(s.mel_l1_db, 2),
            _num(s.frechet, 1)]


def _heard(s: Summary) -> str:
    return f"{_num(s.heard_material_accuracy, 2)} ({_num(s.heard_material_chance, 2)})"


_HEAD = ["onset F1", "precision", "recall", "median offset (ms)", "material acc.", "heard material (chance)",
         "log-mel L1 (dB)",
         "Fréchet dist."]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _find(result: EvalResult, name: str) -> RunResult | None:
    return next((r for r in result.runs if r.config.name == name), None)


def _default_mode(result: EvalResult) -> str:
    """The guidance column of the MeanFlow model's own default sampling ("off" when its default
    is unguided): the bars and the figure judge the model as users get it."""
    return guidance_column(result.models["mf"]["defaults"])


def bars(result: EvalResult) -> list[tuple[str, str, bool | None]]:
    """(bar, measured, met?) for the bars of issues 5 and 18; None where the runs needed were not
    made or a measure is undefined."""
    mode = _default_mode(result)
    text_mode = guidance_column(result.models["mf"]["defaults"], "text")
    mf1, fm1, fm25 = (_find(result, f"{m}-{mode}-video") for m in ("mf1", "fm1", "fm25"))
    mf1_t, fm1_t, fm25_t = (_find(result, f"{m}-{text_mode}-text") for m in ("mf1", "fm1", "fm25"))
    out: list[tuple[str, str, bool | None]] = []
    if mf1:
        s = mf1.summary
        out.append(("MeanFlow 1 step, video-to-audio: onset F1 >= 0.8", f"{s.onset_f1:.3f}",
                    _at_least(s.onset_f1, 0.8)))
        out.append(("MeanFlow 1 step, video-to-audio: median offset <= 40 ms", f"{s.median_offset_ms:.1f} ms",
                    _at_most(s.median_offset_ms, 40.0)))
        if mf1.rtf is not None:
            out.append(("MeanFlow 1 step: whole generation of 8 s at RTF <= 0.1", f"{mf1.rtf:.3f}",
                        mf1.rtf <= 0.1))
        # issue 18's bars for the default one step
        out.append(("MeanFlow 1 step, video-to-audio: onset F1 >= 0.75 (issue 18)", f"{s.onset_f1:.3f}",
                    _at_least(s.onset_f1, 0.75)))
        out.append(("MeanFlow 1 step, video-to-audio: material accuracy >= 0.7 (issue 18)",
                    _num(s.material_accuracy, 3), _at_least(s.material_accuracy, 0.7)))
        out.append(("MeanFlow 1 step, video-to-audio: Fréchet distance <= 650 (issue 18)", f"{s.frechet:.1f}",
                    _at_most(s.frechet, 650.0)))
        if mf1.rtf is not None:
            out.append(("MeanFlow 1 step: RTF <= 0.03 (issue 18)", f"{mf1.rtf:.3f}", mf1.rtf <= 0.03))
        off_run = _find(result, "mf1-off-video")
        if mode != "off" and off_run:
            out.append(_guided_beats_unguided(s, off_run.summary))
    if mf1 and fm25:
        a, b = mf1.summary.onset_f1, fm25.summary.onset_f1
        out.append(("MeanFlow 1 step onset F1 within 5% of flow matching 25 steps (video)",
                    f"{a:.3f} vs {b:.3f} ({(a / b - 1) * 100 if b else float('nan'):+.1f}%)", a >= 0.95 * b))
        # with the teacher as the baseline, the two together are the distilled student's bar
        a, b = mf1.summary.material_accuracy, fm25.summary.material_accuracy
        out.append(("MeanFlow 1 step material accuracy within 5% of flow matching 25 steps (video)",
                    f"{_num(a, 3)} vs {_num(b, 3)}", _at_least(a, 0.95 * b)))
    if fm1_t and fm25_t and mf1_t:
        a, b, c = fm1_t.summary.onset_f1, fm25_t.summary.onset_f1, mf1_t.summary.onset_f1
        out.append(("flow matching 1 step worse on text-to-audio onset F1 than FM 25 steps and "
                    "MeanFlow 1 step",
                    f"FM1 {a:.3f}, FM25 {b:.3f}, MF1 {c:.3f}", a < b and a < c))
    # The distribution-level distance, in both modalities: one-step flow matching gives the blurred
    # conditional mean, which text (no picture to fix the timing) should expose most.
    for modality, (f1, f25, m1) in (("video", (fm1, fm25, mf1)), ("text", (fm1_t, fm25_t, mf1_t))):
        if f1 and f25 and m1:
            a, b, c = f1.summary.frechet, f25.summary.frechet, m1.summary.frechet
            out.append(("flow matching 1 step worse on the Fréchet distance than FM 25 steps and "
                        f"MeanFlow 1 step ({modality})",
                        f"FM1 {a:.1f}, FM25 {b:.1f}, MF1 {c:.1f}", a > b and a > c))
    if mf1_t:  # issue 18: text-to-audio hears the words
        s = mf1_t.summary
        out.append(("MeanFlow 1 step, text-to-audio: heard material accuracy >= 0.7",
                    f"{s.heard_material_accuracy:.2f} (chance {s.heard_material_chance:.2f})",
                    None if math.isnan(s.heard_material_accuracy) else s.heard_material_accuracy >= 0.7))
        if mf1:
            a, b = s.frechet, mf1.summary.frechet
            out.append(("MeanFlow 1 step: text-to-audio Fréchet distance <= 2x video-to-audio's",
                        f"{a:.1f} vs {b:.1f} ({a / b:.2f}x)", a <= 2 * b))
    return out


def _at_least(value: float, bar: float) -> bool | None:
    return None if math.isnan(value) or math.isnan(bar) else value >= bar


def _at_most(value: float, bar: float) -> bool | None:
    return None if math.isnan(value) else value <= bar


def _guided_beats_unguided(guided: Summary, unguided: Summary) -> tuple[str, str, bool | None]:
    """Issue 18: the default guidance must help on onsets, timbre and the distribution at once."""
    pairs = [("onset F1", guided.onset_f1, unguided.onset_f1, 3, True),
             ("material", guided.material_accuracy, unguided.material_accuracy, 3, True),
             ("Fréchet", guided.frechet, unguided.frechet, 1, False)]
    measured = ", ".join(f"{name} {_num(g, d)} vs {_num(u, d)}" for name, g, u, d, _ in pairs)
    undefined = any(math.isnan(g) or math.isnan(u) for _, g, u, _, _ in pairs)
    better = None if undefined else all((g > u) if higher else (g < u) for _, g, u, _, higher in pairs)
    return "MeanFlow 1 step: guided better than unguided on all three (issue 18)", measured, better


def _sureness_section(result: EvalResult, mode: str) -> list[str]:
    """Guided against unguided with a paired bootstrap over the clips: whether the guidance bar's
    margins stand out of the clips' noise (the Fréchet distance is not resampled)."""
    guided, unguided = _find(result, f"mf1-{mode}-video"), _find(result, "mf1-off-video")
    if mode == "off" or guided is None or unguided is None or len(result.clips) < 2:
        return []
    rng = np.random.default_rng(0)  # fixed: the same report for the same scores
    comparisons = [paired(guided.clip_scores, unguided.clip_scores, st, rng) for st in STATISTICS]
    return ["", "## How sure: guided against unguided", "",
            "Each score with its interval over the clips drawn again with replacement; the difference "
            "and ratio from a paired bootstrap (the same clips for both runs), which shows whether a "
            "margin stands out of the clips' noise (`mfmjt eval compare` makes this for any two runs).",
            "", *paired_table(comparisons, f"`{guided.config.name}`", "`mf1-off-video`")]


def _model_lines(result: EvalResult) -> list[str]:
    lines = []
    for role, title in (("mf", "MeanFlow model (mf)"), ("fm", "flow-matching baseline (fm)")):
        info = result.models.get(role)
        if info is None:
            lines.append(f"- {title}: none given (no flow-matching rows)")
            continue
        digest = f", sha256 {info['sha256'][:16]}" if "sha256" in info else ""
        d = info["defaults"]
        lines.append(f"- {title}: `{info['source']}` ({info['name']}{digest}); "
                     f"objective {info['objective']}, "
                     f"{info['parameters']:,} network parameters, defaults {d['steps']} step(s), guidance "
                     f"{d['guidance']} {d['rescale']}, temperature {d.get('temperature', 1.0)}"
                     + (f" (text only: {d['text_temperature']})" if d.get("text_temperature") is not None else "")
                     + (f", text-only guidance {d['text_guidance']}" if d.get("text_guidance") is not None else "")
                     + _median_note(d)
                     + f"; training: {training_summary(info['training'])}")
    return lines


def training_summary(training: dict) -> str:
    """One line for a model's training record, whose `from` chain nests every earlier stage."""
    if not training:
        return "none recorded"
    chain = [training]
    while isinstance(chain[-1].get("from"), dict):
        chain.append(chain[-1]["from"])
    last = chain[0]
    said = [f"{k} {last[k]}" for k in ("recipe", "stage", "steps", "steps_done", "seed") if k in last]
    if last.get("soup_of"):
        said.append(f"average of {len(last['soup_of'])} files")
    if len(chain) > 1:
        said.append(f"after {len(chain) - 1} earlier stage(s)")
    return (", ".join(said) or "recorded") + " (the whole record: the file's config)"


def _median_note(d: dict) -> str:
    video, text = d.get("median_frames", 1), d.get("text_median_frames")
    if video == 1 and text in (None, 1):
        return ""
    return (f", spectrum median over {video} frame(s)"
            + (f" (text only: {text})" if text is not None and text != video else ""))


def _material_section(result: EvalResult, mode: str) -> list[str]:
    """Where the default video run's material accuracy is lost: at impacts it sounds (a wrong
    timbre) or at impacts it misses, and which materials it takes for which."""
    run = _find(result, f"mf1-{mode}-video")
    s = run.summary if run else None
    if s is None or not s.material_confusion:
        return []
    names = sorted(set(s.material_confusion) | {m for row in s.material_confusion.values() for m in row})
    rows = [[m, *(str(s.material_confusion.get(m, {}).get(h, 0)) for h in names)] for m in names]
    return ["", f"## Material at the impacts (`{run.config.name}`)", "",
            f"Of {s.n_impacts} impacts the take has an onset within 50 ms at {s.n_impacts_sounded}: "
            f"material accuracy {_num(s.material_accuracy_sounded, 2)} there, "
            f"{_num(s.material_accuracy_unsounded, 2)} at the other {s.n_impacts - s.n_impacts_sounded} "
            f"(reference audio: {_num(result.reference.material_accuracy, 2)}). Rows: the impact's "
            "material; columns: what the take sounds like there.", "",
            *_table(["impact / heard", *names], rows)]


def render_markdown(result: EvalResult, routes: list[Route] | None = None) -> str:
    """The report as Markdown; `routes`, the output folder's ledger, as its "Routes tried" section."""
    st = result.settings
    seeds = [c.truth.seed for c in result.clips]
    n_onsets = sum(c.truth.onsets.size for c in result.clips)
    n_impacts = sum(len(c.truth.impacts) for c in result.clips)
    lines = ["# Evaluation on the synthetic world", "",
             f"Made by `{st.command or 'run_eval(...)'}` on {time.strftime('%Y-%m-%d %H:%M')} "
             f"({platform.machine()}, {platform.system()}, python {platform.python_version()}) in "
             f"{result.seconds / 60:.1f} min.", "", *_model_lines(result), "",
             f"Clips: {len(seeds)} {st.split}-split clips (seeds {seeds[0]}..{seeds[-1]}), "
             f"{result.clips[0].duration_s:g} s, "
             f"16 kHz mono; {n_onsets} scored onsets, {n_impacts} impacts. Generation seed = clip seed; "
             "guided runs use each model's default scale"
             + (f" (overridden: {st.guidance})" if st.guidance is not None else "")
             + "; starting noise at each model's default temperature (text-only runs: its text temperature)"
             + (f" (overridden: {st.temperature})" if st.temperature is not None else "") + ".", ""]
    lines += ["## Reference rows (ceilings)", "",
              "What a perfect generator would score with these detectors (reference audio; its Fréchet "
              f"distance compares the test clips with {len(seeds)} train clips, the distance between two "
              "independent sets of real clips), and "
              "what a perfect network would score through the MeanFlow model's codec (reference audio "
              "encoded and decoded).", ""]
    lines += _table(["", *_HEAD], [["reference audio", *_metric_cells(result.reference)],
                                   ["codec round trip", *_metric_cells(result.codec)]])
    for modality in MODALITIES:
        runs = [r for r in result.runs if r.config.modality == modality]
        if not runs:
            continue
        lines += ["", f"## {_MODALITY_TITLES[modality]}", ""]
        rows = [[f"`{r.config.name}`", r.config.label, r.objective,
                 "–" if r.config.guidance == "off" else f"{r.guidance_scale:g}", *_metric_cells(r.summary),
                 _num(r.rtf, 3)] for r in runs]
        lines += _table(["run", "what", "objective", "scale", *_HEAD, "RTF"], rows)
    stamps = sorted(r.rtf_timings.get("measured_at") or "" for r in result.runs)
    threads = sorted({r.rtf_timings.get("torch_threads") for r in result.runs} - {None})
    if stamps and stamps[-1]:
        lines += ["", f"RTF measured {stamps[0]} to {stamps[-1]} with {threads} torch thread(s); cached "
                      "values are reused by later runs unless `--remeasure-rtf` is given."]
    mode = _default_mode(result)
    lines += _material_section(result, mode)
    lines += ["", "## Bars (issues 5 and 18)", "",
              f"Judged on the rows of the MeanFlow model's default sampling (guidance `{mode}`).", ""]
    for bar, measured, ok in bars(result):
        mark = "n/a" if ok is None else ("met" if ok else "NOT met")
        lines.append(f"- {bar}: {measured} — **{mark}**")
    lines += _sureness_section(result, mode)
    if routes:
        lines += ["", *render_routes(routes)]
    lines += ["", f"![mel spectrograms of test clips]({FIGURE_NAME})", "", "## How the numbers are made", "",
              f"- Onsets: scored kinds {', '.join(ONSET_KINDS)} (after the first frame); starts of "
              f"{', '.join(DONT_CARE_KINDS)} are don't-care (a detection there is neither a hit nor a false "
              "alarm). Detector: log-mel spectral flux of the 16 most-rising of 64 bands, adaptive "
              "threshold, "
              "peak picking (`mfmjt_core/evaluation/onsets.py`). Matching within ±50 ms, one-to-one, most "
              "pairs then least total offset; F1, precision and recall pooled over clips; median |offset| "
              "over matched pairs.",
              f"- Material accuracy: linear discriminant on 49 spectral-shape/decay/level features of the "
              f"audio just after each ground-truth impact, fitted on reference audio of "
              f"{result.classifier_info.get('clips')} train-split clips "
              f"({result.classifier_info.get('impacts')} "
              "impacts), never test clips (`materials.py`).",
              "- Heard material: the classifier's most frequent answer at the generated audio's own "
              "detected onsets, right when it is one of the materials of the clip's impacts, over "
              "clips with impacts (no onsets: wrong). In brackets the same audio against every other "
              "clip's materials (chance). Text-to-audio is judged by it: a caption says what sounds, "
              "not when, so material accuracy at the reference impact times is chance for any "
              "text-only model.",
              "- Log-mel L1: mean absolute difference in dB of 64-band mel spectrograms (floor -80 dB) "
              "between generated and reference audio of the same clip, averaged over clips.",
              "- Fréchet distance: between Gaussian fits of embeddings of 1 s windows (hop 0.5 s) of all "
              "generated vs all reference test clips. The embedding is a fixed set of 72 mel statistics "
              "(band means, band standard deviations over time, onset flux per band group; "
              "`embedding.py`) — NOT VGGish or PANNs, so values compare only within this table.",
              f"- RTF: seconds of a whole single request through `Generator.generate` (video decoding and "
              f"encoding included, no feature cache) per second of audio, median over the first "
              f"{st.rtf_clips} clip(s), whose audio is scored too; the other clips are generated in "
              "batches (the same computation, equal up to float rounding).",
              "- Generated audio is cached under `cache/` beside this file; re-runs only score."]
    return "\n".join(lines) + "\n"


def _json(result: EvalResult) -> dict:
    st = result.settings
    return {
        "command": st.command,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in st.__dict__.items()},
        "models": result.models,
        "clips": [{"seed": c.truth.seed, "caption": c.truth.caption, "onsets": c.truth.onsets.tolist(),
                   "impacts": [list(i) for i in c.truth.impacts]} for c in result.clips],
        "onset_kinds": list(ONSET_KINDS), "dont_care_kinds": list(DONT_CARE_KINDS), "tolerance_s": 0.05,
        "material_classifier": result.classifier_info,
        "reference": result.reference.to_json(), "codec_round_trip": result.codec.to_json(),
        "runs": [{"name": r.config.name, "label": r.config.label, "modality": r.config.modality,
                  "model": r.model, "objective": r.objective, "steps": r.config.steps,
                  "guidance": r.config.guidance, "scale": r.guidance_scale, "temperature": r.temperature,
                  **r.summary.to_json(),
                  "rtf": r.rtf, "rtf_timings": r.rtf_timings,
                  "batched_generate_s_per_clip": r.generate_s_per_clip,
                  "per_clip": r.clip_scores} for r in result.runs],
        "bars": [{"bar": b, "measured": m, "met": ok} for b, m, ok in bars(result)],
        "seconds": result.seconds,
    }


def _figure_columns(result: EvalResult) -> list[tuple[str, RunResult]]:
    mode = _default_mode(result)
    columns = []
    for model, steps, title in (("mf", 1, "MeanFlow 1 step"), ("fm", 1, "flow matching 1 step"),
                                ("fm", 25, "flow matching 25 steps")):
        run = _find(result, f"{model}{steps}-{mode}-video") or _find(result, f"{model}{steps}-off-video")
        if run is not None:
            columns.append((title + ("" if run.config.guidance == "off" else " (guided)"), run))
    return columns


def write_figure_for(result: EvalResult, path: Path) -> Path | None:
    """The PNG of mel spectrograms of the first clips: reference and the video-to-audio runs."""
    from mfmjt_core.evaluation.figure import FigureRow, write_figure
    from mfmjt_core.evaluation.runner import read_wav

    n = min(result.settings.figure_clips, len(result.clips))
    if n <= 0:
        return None
    columns = _figure_columns(result)
    rows = []
    for clip in result.clips[:n]:
        t = clip.truth
        panels = [t.audio] + [read_wav(run.audio_files[t.seed]) for _, run in columns]
        events = tuple((e.time_s, e.kind) for e in t.events)
        rows.append(FigureRow(f"seed {t.seed}: {t.caption}", events, clip.duration_s, tuple(panels)))
    return write_figure(path, rows, ["reference"] + [c for c, _ in columns],
                        title=f"video-to-audio on {result.settings.split} clips; lines: ground-truth events")


def write_report(result: EvalResult) -> dict[str, Path]:
    """Write results.md, results.json and the figure into the output folder; returns their paths."""
    out = Path(result.settings.out)
    js = out / "results.json"  # first: a report that fails to render loses no scores
    js.write_text(json.dumps(_json(result), indent=1, default=float))
    md = out / "results.md"
    md.write_text(render_markdown(result, read_ledger(out / LEDGER_NAME)))
    paths = {"markdown": md, "json": js}
    figure = write_figure_for(result, out / FIGURE_NAME)
    if figure is not None:
        paths["figure"] = figure
    return paths
