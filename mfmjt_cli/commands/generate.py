"""`mfmjt generate`: sound for a video range, or for a prompt alone, written to WAV/FLAC."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mfmjt_schema
from mfmjt_cli.arg_types import check_device, option_type
from mfmjt_core.errors import UsageError

NAME = "generate"
HELP = "generate sound for a video range (or a prompt) and write it to a file"


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
        parser.add_argument(*spec.cli, dest=spec.name, type=option_type(spec), default=spec.default,
                            help=spec.help + ("" if "default" in spec.help else default), **extra)
    parser.add_argument("-o", "--output", default="mfmjt.wav",
                        help="output file, .wav or .flac (default mfmjt.wav; variations get _2, _3 ...)")


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
    first = Path(output).expanduser()
    return [first] + [first.with_name(f"{first.stem}_{i}{first.suffix}") for i in range(2, count + 1)]


def check_outputs(args: argparse.Namespace, suffixes=(".wav", ".flac")) -> list[Path]:
    """The output files, checked before any work (UsageError): supported names, folders that
    exist and take a new file; the video exists (MediaError) when one is given."""
    from mfmjt_core.media.media_errors import MediaNotFoundError
    from mfmjt_core.media.output_set import OutputPathError, check_output_paths

    if args.video is not None and not Path(args.video).expanduser().is_file():
        raise MediaNotFoundError(f"{args.video} is not a file")
    paths = output_paths(args.output, args.variations)
    try:
        check_output_paths(paths, suffixes)
        if getattr(args, "mux", None):
            from mfmjt_core.media.writer import VIDEO_SUFFIXES

            check_output_paths([Path(args.mux).expanduser()], VIDEO_SUFFIXES, what="the muxed video")
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "mux", None):
        check_mux_target(args.video, args.mux)
    return paths


def check_mux_target(video: str, mux: str) -> None:
    """--mux writes a copy: never over the source (its own sound would be lost), and only into a
    container that can carry the source's picture (checked now, not after the generation)."""
    from mfmjt_core.media.media_errors import MediaWriteError
    from mfmjt_core.media.mux import check_mux

    source, copy = Path(video).expanduser(), Path(mux).expanduser()
    if copy.exists() and copy.resolve() == source.resolve():
        raise UsageError(f"--mux {mux} is the video itself: name a new file for the copy")
    try:
        check_mux(source, copy)
    except MediaWriteError as exc:  # a name the picture cannot go into: the user's choice to change
        raise UsageError(str(exc)) from None


def levels_text(level) -> str:
    """"-23.0 LUFS, -1.0 dBTP" for a take's Levels (a dash where not measurable)."""
    loud = "-" if level.loudness_lufs is None else f"{level.loudness_lufs:.1f}"
    peak = "-" if level.true_peak_dbtp is None else f"{level.true_peak_dbtp:.1f}"
    return f"{loud} LUFS, {peak} dBTP"


def print_loudness_note(path: Path, level: dict | None, target: float | None) -> None:
    """A note on stderr when a take missed the asked loudness (the number alone went unnoticed)."""
    from mfmjt_daemon.events import loudness_note

    note = None if level is None else loudness_note(level, target)
    if note:
        print(f"note: {path.name}: {note}", file=sys.stderr)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_request_arguments(parser)
    parser.add_argument("--mux", metavar="OUT.mp4",
                        help="also write a copy of the video with the first result as its sound, at the range")
    parser.add_argument("--model", help="model file or name (default: the embedded model)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")


def run(args: argparse.Namespace) -> int:
    from mfmjt_cli.progress_line import ProgressLine
    from mfmjt_core.media import mux_audio
    from mfmjt_core.media.output_set import write_audio_set
    from mfmjt_core.pipeline.generator import Generator

    fields = request_fields(args)
    if args.mux and args.video is None:
        raise UsageError("--mux needs a VIDEO")
    paths = check_outputs(args)  # before the model loads: a bad name must not cost a generation
    generator = Generator.load(args.model, device=check_device(args.device))
    bar = ProgressLine()
    try:
        result = generator.generate(progress=bar, video=args.video, **fields)
    finally:
        bar.close()
    write_audio_set(paths, list(result.audio), result.sample_rate)
    levels = result.levels or (None,) * len(paths)
    for path, seed, level in zip(paths, result.seeds, levels):
        print(f"{path}\tseed {seed}" + ("" if level is None else f"\t{levels_text(level)}"))
        print_loudness_note(path, None if level is None else level.to_json(), args.loudness)
    if args.mux:
        mux_audio(args.video, result.audio[0], result.sample_rate, args.mux, start=result.start)
        print(args.mux)
    stages = ", ".join(f"{k} {v:.3f}s" for k, v in result.timings.items())
    print(f"{result.model}: {result.duration:.2f} s of audio; {stages}", file=sys.stderr)
    return 0
