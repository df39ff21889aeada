"""`mfmjt train RECIPE`: run a named training recipe (stages of the one training loop).

`mfmjt train features --data DIR ...` trains an MM-DiT of any variant on features written by
`mfmjt extract`, alone or under torchrun (`torchrun --nproc_per_node 8 -m mfmjt_cli train
features ...`); see docs/training.md.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

NAME = "train"
HELP = "train a model: a named recipe (tiny-synth, the embedded default) or `features` (extracted data)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="tiny-synth, or features (train on `mfmjt extract` output)")
    parser.add_argument("--out", help="run folder (default runs/RECIPE)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda ... (default cpu)")
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes (default 0)")
    parser.add_argument("--stages", help="comma-separated stages to run (default: the recipe's main stages)")
    parser.add_argument("--minutes", type=float, help="time box for the whole run; stages end early and export")
    parser.add_argument("--session-minutes", type=float, metavar="MIN",
                        help="stop after MIN minutes with a checkpoint and exit status 75 (as on SIGTERM); "
                             "the same command again continues exactly where it stopped")
    parser.add_argument("--set", action="append", default=[], metavar="[STAGE:]KEY=VALUE",
                        help="override a config field, e.g. fm:steps=500 or optim.lr=1e-4 (all stages)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--install", action="store_true",
                        help="copy the final model into the package as the embedded default")
    group = parser.add_argument_group("features (mfmjt train features ...)")
    group.add_argument("--data", action="append", default=[], metavar="DIR[:WEIGHT]",
                       help="a feature folder from `mfmjt extract`; repeat to mix (e.g. vgg:1 audiocaps:0.5)")
    group.add_argument("--preset", default="small", help="small (runs on a CPU) or paper (the documented "
                       "paper-scale recipe); default small")
    group.add_argument("--variant", help="network when training from scratch (small_16k ... large_44k_v2, "
                       "tiny_test; default: the preset's), or the variant of an MMAudio .pth given to --init")
    parser.add_argument("--init", default="scratch",
                        help="where the first stage starts. tiny-synth: scratch (the recipe's own start), "
                             "embedded (the packaged model) or a model file. features: scratch, one of our "
                             "model files, an MMAudio network .pth, or a bundle name (mmaudio-small-16k ...)")
    group.add_argument("--config",
                       help="a TrainConfig JSON (e.g. a run's config.json) as one stage named train")


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from mfmjt_core.training.loop import EXIT_RESUMABLE, StopRequest, TrainingStopped

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    session_deadline = (time.monotonic() + args.session_minutes * 60) if args.session_minutes else None
    try:
        with StopRequest():  # SIGTERM at any point of the run: checkpoint, exit 75
            if args.recipe == "features":
                return _run_features(args, session_deadline)
            return _run_recipe(args, session_deadline)
    except TrainingStopped as stopped:
        print(f"{stopped}; run the same command again to continue", file=sys.stderr)
        return EXIT_RESUMABLE


def _run_recipe(args: argparse.Namespace, session_deadline: float | None) -> int:
    from mfmjt_core.errors import UnknownModelError
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL
    from mfmjt_core.training.recipes import RECIPES, run_recipe

    if args.recipe not in RECIPES:
        raise UnknownModelError(f"unknown recipe {args.recipe!r}; known: {', '.join(RECIPES)}")
    stages = args.stages.split(",") if args.stages else None
    recipe = RECIPES[args.recipe]
    chosen = [s for s in recipe.stages if (s.name in stages if stages else not s.optional)]
    overrides = _checked_overrides(args.set, chosen)
    out = Path(args.out or f"runs/{args.recipe}")
    init = {"scratch": None, "embedded": EMBEDDED_MODEL}.get(args.init, args.init)
    final = run_recipe(recipe, out, device=args.device, workers=args.workers,
                       overrides=overrides, minutes=args.minutes, stages=stages, init=init,
                       session_deadline=session_deadline)
    print(f"model: {final}")
    if args.install:
        EMBEDDED_MODEL.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final, EMBEDDED_MODEL)
        print(f"installed as the embedded default: {EMBEDDED_MODEL}")
    return 0


def _checked_overrides(items: list[str], stages) -> dict[str, list[str]]:
    """`--set` items by stage, each tried first on the configs of the `stages` it reaches, so a
    typo or a value out of range is a usage error before any work, not a traceback minutes into
    a run."""
    from mfmjt_core.errors import UsageError
    from mfmjt_core.training.train_config import apply_overrides

    overrides = _overrides(items)
    for stage in stages:
        try:
            apply_overrides(stage.config, overrides.get(stage.name, []) + overrides.get("all", []))
        except ValueError as exc:
            raise UsageError(f"--set ({stage.name} stage): {exc}") from exc
    return overrides


def _overrides(items: list[str]) -> dict[str, list[str]]:
    overrides: dict[str, list[str]] = {}
    for item in items:
        stage, sep, rest = item.partition(":")
        if sep and "=" not in stage:
            overrides.setdefault(stage, []).append(rest)
        else:
            overrides.setdefault("all", []).append(item)
    return overrides


def _run_features(args: argparse.Namespace, session_deadline: float | None) -> int:
    import os

    from mfmjt_core.errors import UnknownModelError
    from mfmjt_core.training.feature_recipes import PRESETS, run_features, stages_from_config_file
    from mfmjt_core.training.feature_task import FeatureTaskError

    if not args.data:
        raise FeatureTaskError("mfmjt train features needs --data DIR (a folder written by `mfmjt extract`)")
    if args.install:
        raise FeatureTaskError("--install is for the tiny-synth recipe only")
    if args.preset not in PRESETS:
        raise UnknownModelError(f"unknown preset {args.preset!r}; known: {', '.join(PRESETS)}")
    stages = args.stages.split(",") if args.stages else None
    known = stages_from_config_file(args.config) if args.config else PRESETS[args.preset].stages
    overrides = _checked_overrides(args.set, [s for s in known if stages is None or s.name in stages])
    final = run_features(
        PRESETS[args.preset], args.data, Path(args.out or f"runs/features-{args.preset}"), init=args.init,
        variant=args.variant, device=args.device, workers=args.workers, overrides=overrides,
        minutes=args.minutes, stages=stages, config_file=args.config,
        session_deadline=session_deadline,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"model: {final}")
    return 0
