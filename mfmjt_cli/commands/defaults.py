"""`mfmjt defaults MODEL`: show or set the sampling defaults a model file carries.

Training writes defaults that follow from how the network was trained (a MeanFlow model: one
step, unguided; flow matching: 25 steps, CFG 4.5). After `mfmjt eval clips` on your own held-out
clips shows better settings, this records them in the file, with the reason, so every client
(the editors send no sampling settings unless the user sets them) gets them.
"""

from __future__ import annotations

import argparse

NAME = "defaults"
HELP = "show or set a model file's sampling defaults (steps, guidance, mode, temperatures, median)"
SETTABLE = ("steps", "guidance", "rescale", "temperature")  # a request may set each of these too
# Defaults of requests without a picture: a request's --temperature / --guidance override them.
DEFAULT_ONLY = ("text_temperature", "text_guidance")
# How takes are decoded (no request field): the mel codec's median over time, in frames.
DECODING = ("median_frames", "text_median_frames")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mfmjt_schema.fields import field

    parser.add_argument("model", help="one of our model files (.safetensors)")
    for name in SETTABLE:
        f = field(name)
        kind = {"int": int, "number": float}.get(f.kind, str)
        parser.add_argument(f"--{name}", type=kind, choices=f.choices or None,
                            help=f"new default: {f.help.split(' (')[0]}")
    parser.add_argument("--text-temperature", type=float, dest="text_temperature",
                        help="new default temperature of requests without a picture (prompt only)")
    parser.add_argument("--text-guidance", type=float, dest="text_guidance",
                        help="new default guidance scale of requests without a picture (prompt only)")
    parser.add_argument("--median-frames", type=int, dest="median_frames",
                        help="running median over this many (odd) mel frames of each take's spectrum "
                             "before decoding (1: none; mel codec only)")
    parser.add_argument("--text-median-frames", type=int, dest="text_median_frames",
                        help="the same for requests without a picture")
    parser.add_argument("--because", metavar="TEXT",
                        help="why (e.g. the `mfmjt eval clips` run that chose them); kept in the file")


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from mfmjt_core.model import SamplingDefaults
    from mfmjt_core.model.file import read_model, rewrite_config
    from mfmjt_schema.fields import FieldError, check_fields

    new = {name: getattr(args, name) for name in SETTABLE + DEFAULT_ONLY + DECODING
           if getattr(args, name) is not None}
    if not new:
        _, config = read_model(args.model)
        print(_describe(config))
        return 0
    try:
        decoding = {name: new.pop(name) for name in DECODING if name in new}
        text_only = {name: new.pop(name) for name in DEFAULT_ONLY if name in new}
        new = check_fields(new)
        for name, value in text_only.items():  # the same range as the request field it stands in for
            field_name = name.removeprefix("text_")
            try:
                new[name] = check_fields({field_name: value})[field_name]
            except FieldError as exc:
                raise FieldError(name, exc.what) from None
        new.update(decoding)  # SamplingDefaults checks the windows below
    except FieldError as exc:
        print(f"mfmjt defaults: {exc}", file=sys.stderr)
        return 2
    if not args.because:
        print("mfmjt defaults: say --because (which evaluation chose these settings)", file=sys.stderr)
        return 2

    def change(config: dict) -> dict:
        median = max(new.get(name) or 1 for name in DECODING)
        if median > 1 and config.get("codec", {}).get("kind") != "mel":
            raise ValueError(f"only the mel codec's takes can have a median over time "
                             f"(this model's codec: {config.get('codec', {}).get('kind')})")
        old = dict(config.get("defaults", {}))
        config["defaults"] = {**old, **new}
        SamplingDefaults(**config["defaults"])  # the file must stay loadable (raises ValueError)
        training = config.setdefault("training", {})
        training.setdefault("defaults_history", []).append({
            "was": old, "set": new, "because": args.because, "at": time.strftime("%Y-%m-%d %H:%M:%S")})
        training["defaults_from"] = args.because
        return config

    try:
        print(_describe(rewrite_config(args.model, change)))
    except ValueError as exc:  # the file is left as it was
        print(f"mfmjt defaults: {exc}", file=sys.stderr)
        return 2
    return 0


def _describe(config: dict) -> str:
    d, training = config.get("defaults", {}), config.get("training", {})
    lines = [f"{config.get('name')}: {config.get('objective')} model",
             "defaults: " + ", ".join(f"{k} {d[k]}" for k in SETTABLE + DEFAULT_ONLY + DECODING
                                      if d.get(k) is not None)]
    if training.get("folded_guidance") is not None:
        lines.append(f"guidance folded into training: {training['folded_guidance']} (not applied again)")
    if training.get("defaults_from"):
        lines.append(f"chosen by: {training['defaults_from']}")
    return "\n".join(lines)
