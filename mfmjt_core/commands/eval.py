"""`mfmjt eval synth`: compare MeanFlow and flow matching on test clips of the synthetic world.

Writes results.md (with the command that made it), results.json and mel_spectrograms.png into
the output folder, and caches generated audio there so a re-run only scores.
"""

from __future__ import annotations

import argparse
import shlex

NAME = "eval"
HELP = "evaluate models: `mfmjt eval synth` scores generated audio on the synthetic world"


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
    p.add_argument("--clips", type=int, default=32, help="number of clips (default 32)")
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
                   help="scale of the starting noise of every run (default: each model's)")
    p.add_argument("--rtf-clips", type=int, default=2,
                   help="clips timed one request at a time for RTF (default 2)")
    p.add_argument("--figure-clips", type=int, default=3, help="clips in the figure (default 3)")
    p.add_argument("--material-train-clips", type=int, default=600,
                   help="train-split clips the material classifier is fitted on (default 600)")
    p.add_argument("--batch-size", type=int, default=16, help="clips per network batch (default 16)")
    p.add_argument("--remeasure-rtf", action="store_true",
                   help="time the requests again instead of reusing cached real-time factors")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


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
    import sys
    from pathlib import Path

    from mfmjt_core.errors import MissingWeightsError
    from mfmjt_core.evaluation.report import write_report
    from mfmjt_core.evaluation.runner import EvalSettings, run_eval
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.clips < 2:
        print("mfmjt eval synth: --clips must be at least 2 (the Fréchet distance needs a spread)",
              file=sys.stderr)
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
