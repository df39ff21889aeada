"""`mfmjt bench`: per-stage timing, real-time factor, memory, one step vs 25 steps."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "bench"
HELP = "time each generation stage for an 8 s clip and compare 1 step with 25 steps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="embedded (default), tiny-random, a model file, or a published size "
        "(small_16k, small_44k, medium_44k, large_44k, large_44k_v2) with random weights",
    )
    parser.add_argument("--steps", default="1,25", help="step counts to compare (default 1,25)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--encoders", action="store_true",
                        help="also time the published encoders (CLIP ViT-H, Synchformer; slow on a CPU)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per stage; the best counts")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from mfmjt_core.benchmark import format_table, run_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    model = None if args.model in (None, "embedded") else args.model
    steps = tuple(int(s) for s in args.steps.split(","))
    result = run_benchmark(model, device=args.device, dtype=args.dtype, steps=steps, compile=args.compile,
                           encoders=args.encoders or not _is_published(model), repeats=args.repeats)
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _is_published(model: str | None) -> bool:
    from mfmjt_core.network import VARIANTS

    return model in VARIANTS and model != "tiny_test"
