"""`mfmjt generate`: sound for a video range, or for a prompt alone, written to WAV/FLAC."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "generate"
HELP = "generate sound for a video range (or a prompt) and write it to a file"


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `mfmjt client` (same names, same meaning)."""
    parser.add_argument("video", nargs="?", help="video file (omit for text-to-audio)")
    parser.add_argument("--start", type=float, help="range start in seconds (default 0)")
    parser.add_argument("--end", type=float, help="range end in seconds (default: end of video)")
    parser.add_argument("-d", "--duration", type=float, help="length of text-to-audio output in seconds")
    parser.add_argument("-p", "--prompt", default="", help="what the sound should be")
    parser.add_argument("-n", "--negative", "--negative-prompt", dest="negative_prompt", default="",
                        help="what the sound should not be")
    parser.add_argument("--seed", type=int, help="seed of the first variation (default: random, printed)")
    parser.add_argument("--steps", type=int, help="network evaluations per sample (default: the model's, 1)")
    parser.add_argument("--guidance", type=float, help="guidance scale (default: the model's)")
    parser.add_argument("--rescale", choices=["none", "plain", "zero_star", "std"], help="guidance mode")
    parser.add_argument("--temperature", type=float,
                        help="scale of the starting noise, 0-2: lower is safer, less varied (default: the model's)")
    parser.add_argument("--variations", type=int, default=1, help="how many different results")
    parser.add_argument("--sample-rate", type=int, default=48_000, help="output rate in Hz (default 48000)")
    parser.add_argument("--channels", type=int, choices=[1, 2], default=1, help="1 mono or 2 stereo")
    parser.add_argument("-o", "--output", default="mfmjt.wav", help="output file (variations get _2, _3 ...)")


def request_fields(args: argparse.Namespace) -> dict:
    if args.video is None and args.duration is None:
        raise SystemExit("mfmjt: give a VIDEO, or --prompt with --duration for text-to-audio")
    return {
        "video": args.video, "start": args.start, "end": args.end,
        "duration": args.duration if args.video is None else None,
        "prompt": args.prompt, "negative_prompt": args.negative_prompt, "seed": args.seed, "steps": args.steps,
        "guidance": args.guidance, "rescale": args.rescale, "temperature": args.temperature,
        "variations": args.variations,
        "sample_rate": args.sample_rate, "channels": args.channels,
    }


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
        raise SystemExit("mfmjt: --mux needs a VIDEO")
    generator = Generator.load(args.model, device=args.device)
    bar = ProgressLine()
    try:
        result = generator.generate(progress=bar, **fields)
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
