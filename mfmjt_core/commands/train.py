"""`mfmjt train RECIPE`: run a named training recipe (stages of the one training loop)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

NAME = "train"
HELP = "train a model with a named recipe (e.g. tiny-synth, the embedded default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe name: tiny-synth")
    parser.add_argument("--out", help="run folder (default runs/RECIPE)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda ... (default cpu)")
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes (default 0)")
    parser.add_argument("--stages", help="comma-separated stages to run (default: the recipe's main stages)")
    parser.add_argument("--minutes", type=float, help="time box for the whole run; stages end early and export")
    parser.add_argument("--set", action="append", default=[], metavar="[STAGE:]KEY=VALUE",
                        help="override a config field, e.g. fm:steps=500 or optim.lr=1e-4 (all stages)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--install", action="store_true",
                        help="copy the final model into the package as the embedded default")


def run(args: argparse.Namespace) -> int:
    from mfmjt_core.errors import UnknownModelError
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL
    from mfmjt_core.training.recipes import RECIPES, run_recipe

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.recipe not in RECIPES:
        raise UnknownModelError(f"unknown recipe {args.recipe!r}; known: {', '.join(RECIPES)}")
    overrides: dict[str, list[str]] = {}
    for item in args.set:
        stage, sep, rest = item.partition(":")
        if sep and "=" not in stage:
            overrides.setdefault(stage, []).append(rest)
        else:
            overrides.setdefault("all", []).append(item)
    out = Path(args.out or f"runs/{args.recipe}")
    stages = args.stages.split(",") if args.stages else None
    final = run_recipe(RECIPES[args.recipe], out, device=args.device, workers=args.workers,
                       overrides=overrides, minutes=args.minutes, stages=stages)
    print(f"model: {final}")
    if args.install:
        EMBEDDED_MODEL.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final, EMBEDDED_MODEL)
        print(f"installed as the embedded default: {EMBEDDED_MODEL}")
    return 0
