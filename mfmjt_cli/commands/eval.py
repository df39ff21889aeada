"""`mfmjt eval synth`: compare MeanFlow and flow matching on test clips of the synthetic world.
`mfmjt eval clips DIR`: the same metrics on a folder of the user's own videos, each video's
soundtrack as the reference (`mfmjt_core.evaluation.clips`).
`mfmjt eval route NAME --from RUN_DIR`: one row of the ledger of routes tried (`routes.json`, shown
in results.md) from an evaluation's results, with the training compute it took.
`mfmjt eval compare A B`: two finished runs of the same clips against each other, with paired
bootstrap intervals (`mfmjt_core.evaluation.uncertainty`).

Both write results.md (with the command that made it), results.json and mel_spectrograms.png
into the output folder; `synth` caches generated audio there so a re-run only scores.
"""

from __future__ import annotations

import argparse
import shlex

NAME = "eval"
HELP = ("evaluate models: `mfmjt eval synth` on the synthetic world, `mfmjt eval clips DIR` on your own "
        "videos")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    p = sub.add_parser("synth", help="onset F1, offsets, materials, spectral and Fréchet distances, RTF "
                                     "on test clips of the synthetic world",
                       description="Compare MeanFlow (1 and 4 steps) with a flow-matching baseline (1 and 25 "
                                   "steps), with and without guidance, for video-to-audio, text-to-audio and "
                                   "both, on test-split clips of the built-in world.")
    p.add_argument("--model", help="MeanFlow model (.safetensors, or tiny-random); "
                                   "default: the embedded model")
    p.add_argument("--baseline", help="flow-matching model (.safetensors, or tiny-random); without it only "
                                      "MeanFlow rows are made")
    p.add_argument("--clips", type=int, default=160, help="number of clips (default 160: the reported numbers)")
    p.add_argument("--start", type=int, default=0, help="index of the first clip in its split (default 0)")
    p.add_argument("--split", default="test", choices=("test", "val"),
                   help="world split of the clips: test (reported numbers) or val (for choosing settings "
                        "such as the guidance scale; default test)")
    p.add_argument("--out", default="docs/eval", help="output folder (default docs/eval)")
    p.add_argument("--configs", nargs="+", default=["default"], metavar="SEL",
                   help="presets (default, full, quick) and/or globs over run names such as "
                        "mf1-zero_star-video, "
                        "'fm25-*' or '*-text' (default: default)")
    p.add_argument("--guidance", type=float, help="guidance scale of guided runs (default: each model's)")
    p.add_argument("--temperature", type=float,
                   help="scale of the starting noise of every run (default: each model's; "
                        "for text-only runs its text temperature, where it has one)")
    p.add_argument("--rtf-clips", type=int, default=2,
                   help="clips timed one request at a time for RTF (default 2)")
    p.add_argument("--figure-clips", type=int, default=3, help="clips in the figure (default 3)")
    p.add_argument("--material-train-clips", type=int, default=600,
                   help="train-split clips the material classifier is fitted on (default 600)")
    p.add_argument("--batch-size", type=int, default=16, help="clips per network batch (default 16)")
    p.add_argument("--remeasure-rtf", action="store_true",
                   help="time the requests again instead of reusing cached real-time factors")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    _add_clips_arguments(sub)
    _add_route_arguments(sub)
    _add_compare_arguments(sub)


def _add_compare_arguments(sub) -> None:
    p = sub.add_parser(
        "compare", help="two finished runs of the same clips against each other, with bootstrap intervals",
        description="Compare run A with run B over the clips both scored: onset F1 and material accuracy "
                    "of each with its interval over clips drawn with replacement, and their difference and "
                    "ratio from a paired bootstrap (the same clips drawn for both), which is far tighter "
                    "than either run's own interval. Each run is RESULTS:RUN, RESULTS an output folder of "
                    "`mfmjt eval synth` (or its results.json) and RUN a run name in it, e.g. "
                    "docs/eval:mf1-std-video.")
    p.add_argument("a", metavar="A", help="RESULTS:RUN, e.g. docs/eval:mf1-std-video")
    p.add_argument("b", metavar="B", help="RESULTS:RUN, e.g. runs/flow-eval:fm25-plain-video")
    p.add_argument("--draws", type=int, default=5000, help="bootstrap resamples (default 5000)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")


def _add_route_arguments(sub) -> None:
    p = sub.add_parser(
        "route", help="add a row to the ledger of routes tried (routes.json beside results.md) from an "
                      "evaluation's results",
        description="Record one model or route in the ledger: its scores from the evaluation in RUN_DIR "
                    "(results.json of `mfmjt eval synth`), the training compute it took, and a line on "
                    "the outcome. A row of the same name is replaced. The ledger's folder's results.md "
                    "gets the updated \"Routes tried\" section at once, and every later `mfmjt eval "
                    "synth` into that folder keeps it.")
    p.add_argument("name", help="short name of the row (a row of this name is replaced)")
    p.add_argument("--from", dest="run_dir", required=True, metavar="RUN_DIR",
                   help="output folder of the `mfmjt eval synth` that measured the model")
    p.add_argument("--route", required=True, help="which route it belongs to, e.g. 'distilled student'")
    p.add_argument("--what", required=True, help="one sentence: what the model is and how it was made")
    p.add_argument("--device", required=True, help="where it trained, e.g. 'CPU, 1 thread' or 'H200'")
    p.add_argument("--minutes", type=float, help="wall minutes of training (omit when not recorded)")
    p.add_argument("--steps", required=True, help="training steps, e.g. '10508 FM + 2000 MeanFlow (batch 16)'")
    p.add_argument("--share", type=float,
                   help="fraction of the shipped line's compute (17,000 flow-matching steps of batch 16)")
    p.add_argument("--note", default="", help="the outcome in a line (kept, shipped, not kept and why)")
    for role, default in (("video", "the video run at the model's default guidance"),
                          ("unguided", "the unguided video run"),
                          ("text", "the prompt-only run at the model's default text guidance")):
        p.add_argument(f"--{role}", metavar="RUN",
                       help=f"the evaluation's run for the {role} column (default: {default}, one-step "
                            "MeanFlow when the evaluation made such runs, else 25-step flow matching)")
    p.add_argument("--outside", metavar="CLIPS_DIR",
                   help="output folder of `mfmjt eval clips` that ran the same model file at its defaults "
                        "on clips made outside the project (docs/evaluation.md): the row's outside-clips cell")
    p.add_argument("--source", help="how the numbers were made, when not by the evaluation's own command "
                                     "(e.g. a script that ran it with a patch)")
    p.add_argument("--ledger", default="docs/eval/routes.json", help="ledger file (default docs/eval/routes.json)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _add_clips_arguments(sub) -> None:
    import mfmjt_schema
    from mfmjt_cli.arg_types import option_type

    p = sub.add_parser(
        "clips", help="onset F1, log-mel and Fréchet distances, RTF on a folder of your own videos, each "
                      "video's soundtrack as the reference",
        description="Generate sound for every video in DIR (mp4, mov, mkv, webm, anything FFmpeg reads) and "
                    "score it against the video's own soundtrack: onsets detected in both (F1 within "
                    "±50 ms), log-mel distance, the Fréchet distance on the evaluation's embedding over the "
                    "folder, and the real-time factor. Writes results.md (one row per file, skipped files "
                    "with their reason), results.json, mel_spectrograms.png and the generated takes "
                    "(audio/) into OUT.")
    p.add_argument("folder", metavar="DIR", help="folder of videos (top level only unless --recursive)")
    p.add_argument("--model", help="model file or published bundle name (default: the embedded model)")
    p.add_argument("--out", default="mfmjt-eval-clips", help="output folder (default ./mfmjt-eval-clips)")
    p.add_argument("-r", "--recursive", action="store_true", help="also evaluate videos in subfolders")
    p.add_argument("--max-seconds", type=_positive_seconds, metavar="SECONDS",
                   help="evaluate only the first SECONDS of longer clips")
    for name in ("seed", "steps", "guidance", "rescale", "temperature", "prompt"):
        spec = mfmjt_schema.field(name)
        default = 0 if name == "seed" else spec.default
        help_text = "seed of every clip's generation (default 0)" if name == "seed" else spec.help
        extra = {"metavar": "{" + ",".join(spec.choices) + "}"} if spec.kind == "choice" else {}
        p.add_argument(*spec.cli, dest=name, type=option_type(spec), default=default, help=help_text, **extra)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")
    p.add_argument("--figure-clips", type=int, default=3, help="clips in the figure (default 3)")
    p.add_argument("--no-audio", action="store_true", help="do not keep the generated takes in OUT/audio")
    p.add_argument("--no-ceiling", action="store_true",
                   help="skip the ceiling row (the soundtracks through the model's codec)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def clips_command_line(args: argparse.Namespace) -> str:
    """`mfmjt eval clips ...` with every setting that differs from its default."""
    parts = ["mfmjt", "eval", "clips", str(args.folder), "--out", str(args.out)]
    for flag, value, default in (("--model", args.model, None), ("--max-seconds", args.max_seconds, None),
                                 ("--seed", args.seed, 0), ("--steps", args.steps, None),
                                 ("--guidance", args.guidance, None), ("--rescale", args.rescale, None),
                                 ("--temperature", args.temperature, None), ("--prompt", args.prompt, ""),
                                 ("--device", args.device, "cpu"), ("--figure-clips", args.figure_clips, 3),
                                 ("--threads", args.threads, None)):
        if value != default:
            parts += [flag, str(value)]
    parts += [flag for flag, on in (("--recursive", args.recursive), ("--no-audio", args.no_audio),
                                    ("--no-ceiling", args.no_ceiling)) if on]
    return shlex.join(parts)


def command_line(args: argparse.Namespace) -> str:
    """The full command, every setting spelled out, as written into the report."""
    parts = ["mfmjt", "eval", "synth"]
    for flag, value in (("--model", args.model), ("--baseline", args.baseline), ("--clips", args.clips),
                        ("--start", args.start), ("--split", None if args.split == "test" else args.split),
                        ("--out", args.out)):
        if value is not None:
            parts += [flag, str(value)]
    parts += ["--configs", *args.configs]
    for flag, value, default in (("--guidance", args.guidance, None), ("--temperature", args.temperature, None),
                                 ("--rtf-clips", args.rtf_clips, 2),
                                 ("--figure-clips", args.figure_clips, 3),
                                 ("--material-train-clips", args.material_train_clips, 600),
                                 ("--batch-size", args.batch_size, 16), ("--threads", args.threads, None)):
        if value != default:
            parts += [flag, str(value)]
    if args.remeasure_rtf:
        parts.append("--remeasure-rtf")
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    if args.suite == "route":  # no model, no torch
        return run_route(args)
    if args.suite == "compare":
        return run_compare(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return run_clips(args) if args.suite == "clips" else run_synth(args)


def run_route(args: argparse.Namespace) -> int:
    import json
    import math
    import sys
    from pathlib import Path

    from mfmjt_core.evaluation.routes import (
        Compute,
        LedgerError,
        read_ledger,
        render_routes,
        replace_section,
        route_from_results,
        with_route,
        write_ledger,
    )

    def results_of(folder: str, command: str) -> dict:
        path = Path(folder) / "results.json"
        if not path.exists():
            raise LedgerError(f"no results.json in {folder}: give the output folder of `{command}`")
        try:
            return read_results(path, command, runs=command == "mfmjt eval synth")
        except ValueError as exc:
            raise LedgerError(str(exc)) from None

    ledger = Path(args.ledger)
    try:
        results = results_of(args.run_dir, "mfmjt eval synth")
        if args.share is not None and not 0 < args.share < math.inf:
            raise LedgerError(f"--share is a positive fraction, got {args.share}")
        if args.minutes is not None and not 0 <= args.minutes < math.inf:
            raise LedgerError(f"--minutes is a number of minutes, got {args.minutes}")
        outside = None if args.outside is None else results_of(args.outside, "mfmjt eval clips")
        route = route_from_results(
            results, name=args.name, route=args.route, what=args.what,
            compute=Compute(args.device, args.minutes, args.steps, args.share),
            video=args.video, unguided=args.unguided, text=args.text, note=args.note, source=args.source,
            outside=outside)
        routes = with_route(read_ledger(ledger), route)
    except (LedgerError, json.JSONDecodeError) as e:
        print(f"mfmjt eval route: {e}", file=sys.stderr)
        return 2
    ledger.parent.mkdir(parents=True, exist_ok=True)
    write_ledger(ledger, routes)
    print(f"ledger: {ledger} ({len(routes)} routes)")
    md = ledger.with_name("results.md")
    if md.exists():
        md.write_text(replace_section(md.read_text(), render_routes(routes)))
        print(f"markdown: {md}")
    return 0


def read_results(path, command: str, *, runs: bool = True) -> dict:
    """The results.json that `command` wrote, or ValueError naming the file and what is wrong
    (not JSON, not text, not an evaluation's; with `runs`: no list of named runs)."""
    import json

    try:
        results = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a results.json of `{command}` ({exc})") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path} is not a results.json of `{command}` (not a JSON object)")  # noqa: TRY004 (a usage error)
    listed = results.get("runs")
    if runs and not (isinstance(listed, list) and all(isinstance(r, dict) and isinstance(r.get("name"), str)
                                                        for r in listed)):
        raise ValueError(f"{path} is not a results.json of `{command}` (no list of named runs)")
    return results


def run_compare(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    import numpy as np

    from mfmjt_core.evaluation.uncertainty import STATISTICS, paired, paired_table

    def load(spec: str) -> tuple[dict, dict]:
        path_text, sep, run_name = spec.rpartition(":")
        if not sep or not path_text or not run_name:
            raise ValueError(f"{spec!r}: give RESULTS:RUN, e.g. docs/eval:mf1-std-video")
        path = Path(path_text)
        path = path / "results.json" if path.is_dir() else path
        if not path.is_file():
            raise ValueError(f"{path}: no results.json of `mfmjt eval synth` there")
        results = read_results(path, "mfmjt eval synth")
        runs = {r["name"]: r for r in results["runs"]}
        if run_name not in runs:
            raise ValueError(f"{path} has no run {run_name!r}; it has: {', '.join(runs) or 'none'}")
        per_clip = runs[run_name].get("per_clip")
        if not per_clip or not isinstance(per_clip, list) or not all(isinstance(c, dict) for c in per_clip):
            raise ValueError(f"{path}: run {run_name!r} has no per-clip scores")
        return results, runs[run_name]

    try:
        if not 0 < args.level < 1:
            raise ValueError(f"--level is between 0 and 1, got {args.level}")
        (res_a, run_a), (res_b, run_b) = load(args.a), load(args.b)
        rng = np.random.default_rng(args.seed)  # one stream, drawn in a fixed order: reproducible
        comparisons = [paired(run_a["per_clip"], run_b["per_clip"], st, rng, draws=args.draws, level=args.level)
                       for st in STATISTICS]
    except (ValueError, json.JSONDecodeError) as e:
        print(f"mfmjt eval compare: {e}", file=sys.stderr)
        return 2
    print("\n".join(paired_table(comparisons, args.a, args.b)))
    shared, only = comparisons[0].clips, {len(run_a["per_clip"]), len(run_b["per_clip"])}
    if only != {shared}:
        print(f"\nnote: compared on the {shared} clips both runs scored (runs have {sorted(only)})")
    if res_a.get("material_classifier") != res_b.get("material_classifier"):
        print("\nnote: the two evaluations fitted different material classifiers "
              f"({_classifier_text(res_a)} against {_classifier_text(res_b)}): material accuracy is not "
              "comparable; run both with the same --material-train-clips")
    return 0


def _classifier_text(results: dict) -> str:
    info = results.get("material_classifier") or {}
    return f"{info.get('clips', '?')} train clips"


def run_clips(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mfmjt_cli.arg_types import check_device
    from mfmjt_core.evaluation.clips import ClipsSettings, run_clips
    from mfmjt_core.evaluation.clips_report import write_clips_report

    settings = ClipsSettings(
        folder=Path(args.folder), out=Path(args.out), model=args.model, recursive=args.recursive,
        seed=args.seed, steps=args.steps, guidance=args.guidance, rescale=args.rescale,
        temperature=args.temperature, prompt=args.prompt, max_seconds=args.max_seconds,
        device=check_device(args.device), figure_clips=max(0, args.figure_clips), save_audio=not args.no_audio,
        ceiling=not args.no_ceiling,
        command=clips_command_line(args))
    paths = write_clips_report(run_clips(settings))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mfmjt_core.errors import MissingWeightsError
    from mfmjt_core.evaluation.report import write_report
    from mfmjt_core.evaluation.routes import LEDGER_NAME, LedgerError, read_ledger
    from mfmjt_core.evaluation.runner import EvalSettings, run_eval
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL

    if args.clips < 2:
        print("mfmjt eval synth: --clips must be at least 2 (the Fréchet distance needs a spread)",
              file=sys.stderr)
        return 2
    try:  # the report shows the folder's ledger: a broken one is said now, not after the generation
        read_ledger(Path(args.out) / LEDGER_NAME)
    except LedgerError as e:
        print(f"mfmjt eval synth: {e}", file=sys.stderr)
        return 2
    model = args.model
    if model is None:
        if not EMBEDDED_MODEL.exists():
            raise MissingWeightsError(f"no embedded model at {EMBEDDED_MODEL}; give --model")
        model = str(EMBEDDED_MODEL)
    settings = EvalSettings(
        model=model, baseline=args.baseline, clips=args.clips, out=Path(args.out),
        configs=tuple(args.configs),
        guidance=args.guidance, temperature=args.temperature, rtf_clips=max(0, args.rtf_clips),
        figure_clips=max(0, args.figure_clips),
        material_train_clips=args.material_train_clips, batch_size=args.batch_size, start=args.start,
        split=args.split, remeasure_rtf=args.remeasure_rtf,
        command=command_line(args),
    )
    result = run_eval(settings)
    paths = write_report(result)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
