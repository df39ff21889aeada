"""`mfmjt average OUT MODEL MODEL...`: the weight average of model files of one architecture.

How the shipped model is made from runs trained on side by side (docs/training.md): e.g.
`mfmjt average soup.safetensors runs/a/continue/model.safetensors runs/b/continue/model.safetensors
mfmjt_core/assets/mfmjt-tiny-synth.safetensors`. Set its sampling defaults with `mfmjt defaults`.
"""

from __future__ import annotations

import argparse

NAME = "average"
HELP = "average the weights of model files trained on from one model (a model soup)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="the averaged model file to write (.safetensors)")
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="two or more of our model files of one architecture; the first's "
                             "config and sampling defaults are kept")
    parser.add_argument("--weights", nargs="+", type=float, metavar="W",
                        help="one weight per model, normalised to sum 1 (default: equal)")
    parser.add_argument("--name", help="the averaged model's name (default: the first model's)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mfmjt_core.model.average import average_models
    from mfmjt_core.model.file import save_model

    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":  # a model file under an audio or video name misleads every tool
        print(f"mfmjt average: OUT must end in .safetensors, got {out.name}", file=sys.stderr)
        return 2
    if out.resolve() in {Path(m).resolve() for m in args.models}:
        print("mfmjt average: OUT is one of the models; write the average to a new file", file=sys.stderr)
        return 2
    try:
        tensors, config = average_models(args.models, args.weights, args.name)
    except ValueError as exc:
        print(f"mfmjt average: {exc}", file=sys.stderr)
        return 2
    save_model(out, tensors, config)
    print(f"{out}: " + ", ".join(config["training"]["soup_of"]))
    return 0
