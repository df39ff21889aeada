"""`mfmjt generate`: sound for a video range, or for a prompt alone, written to WAV/FLAC."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mfmjt_schema
from mfmjt_core.errors import UsageError

NAME = "generate"
HELP = "generate sound for a video range (or a prompt) and write it to a file"


def _option_type(spec: mfmjt_schema.Field):
    """argparse `type` for a schema field: parses the text, checks the bounds, and lets argparse
    turn a bad value into one usage line (exit 2) naming the option and what fits."""
    def parse(text: str):
        try:
            value = {"int": int, "number": float}.get(spec.kind, str)(text)
            if spec.kind == "choice" and spec.choices and type(spec.choices[0]) is int:
                value = int(text)
            return spec.check(value)
        except (ValueError, mfmjt_schema.FieldError):
            raise argparse.ArgumentTypeError(f"must be {spec.what()}, got {text!r}") from None
    parse.__name__ = spec.kind  # argparse names the type in some messages
    return parse


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The request options, one per command-line field of the request schema (shared with
    `mfmjt client`: same names, same meaning, same bounds)."""
    parser.add_argument("video", nargs="?", help="video file (omit for text-to-audio)")
    for spec in mfmjt_schema.cli_fields():
        extra = {"metavar": spec.metavar} if spec.metavar else {}
        if spec.kind == "choice":
            extra["metavar"] = "{" + ",".join(map(str, spec.choices)) + "}"
        elif spec.kind == "text":
            extra["metavar"] = "TEXT"
        default = "" if spec.default in (None, "") else f" (default {spec.default})"
        parser.add_argument(*spec.cli, dest=spec.name, type=_option_type(spec), default=spec.default,
                            help=spec.help + ("" if "default" in spec.help else default), **extra)
    parser.add_argument("-o", "--output", default="mfmjt.wav",
                        help="output file, .wav or .flac (variations get _2, _3 ...)")


def request_fields(args: argparse.Namespace) -> dict:
    """The request as `Generator.generate` / `Client.generate` keywords (video separately)."""
    if args.video is None and args.duration is None:
        raise UsageError("give a VIDEO, or --prompt with --duration for text-to-audio")
    fields = {spec.name: getattr(args, spec.name) for spec in mfmjt_schema.cli_fields()}
    try:
        mfmjt_schema.check_range(fields, args.video is not None)
    except mfmjt_schema.RangeError as exc:
        raise UsageError(str(exc)) from None
    return fields


def output_paths(output: str | Path, count: int) -> list[Path]:
    """out.wav for one take; out.wav, out_2.wav, ... for several."""
    first = Path(output)
    return [first] + [first.with_name(f"{first.stem}_{i}{first.suffix}") for i in range(2, count + 1)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_request_arguments(parser)
    parser.add_argument("--mux", metavar="OUT.mp4", help="also write a copy of the video with the first result as audio")
    parser.add_argument("--model", help="model file or name (default: the embedded model)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")


def run(args: argparse.Namespace) -> int:
    from mfmjt_core.commands._progress import ProgressLine
    from mfmjt_core.media import mux_audio, write_audio
    from mfmjt_core.pipeline.generator import Generator

    fields = request_fields(args)
    if args.mux and args.video is None:
        raise UsageError("--mux needs a VIDEO")
    generator = Generator.load(args.model, device=args.device)
    bar = ProgressLine()
    try:
        result = generator.generate(progress=bar, video=args.video, **fields)
    finally:
        bar.close()
    paths = output_paths(args.output, len(result.seeds))
    for path, audio, seed in zip(paths, result.audio, result.seeds):
        write_audio(path, audio, result.sample_rate)
        print(f"{path}\tseed {seed}")
    if args.mux:
        mux_audio(args.video, result.audio[0], result.sample_rate, args.mux)
        print(args.mux)
    stages = ", ".join(f"{k} {v:.3f}s" for k, v in result.timings.items())
    print(f"{result.model}: {result.duration:.2f} s of audio; {stages}", file=sys.stderr)
    return 0
