"""`mfmjt synth`: write clips of the synthetic world (MP4 + WAV + JSON sidecar) to a folder."""

from __future__ import annotations

import argparse
from fractions import Fraction

NAME = "synth"
HELP = "write clips of the built-in synthetic world (video, audio, caption, events) to a folder"

_FPS = {"24": Fraction(24), "25": Fraction(25), "30": Fraction(30), "29.97": Fraction(30000, 1001)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="folder to write <split>_<seed>.mp4/.wav/.json into")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    parser.add_argument("-n", "--count", type=int, default=4, help="number of clips (default 4)")
    parser.add_argument("--start", type=int, default=0, help="index of the first clip in the split")
    parser.add_argument("--size", type=int, default=96, help="frame height and width in pixels")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per clip")
    parser.add_argument("--fps", choices=sorted(_FPS), help="fixed frame rate (default: varies)")
    parser.add_argument("--neutral-looks", action="store_true",
                        help="draw every ball and cube in one look that is no material's: the same "
                             "motion and sound, the material said only by the caption (clips for "
                             "`mfmjt distill` that teach a student to take the material from the words)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mfmjt_core.synth import WorldConfig, iter_clips
    from mfmjt_core.synth.export import write_clip

    config = WorldConfig(duration_s=args.duration, height=args.size, width=args.size,
                         fps=_FPS[args.fps] if args.fps else None)
    out = Path(args.out)
    look = "  neutral looks" if args.neutral_looks else ""
    for clip in iter_clips(args.split, args.count, config, start=args.start):
        files = write_clip(clip, out / f"{args.split}_{clip.seed}.mp4", neutral_looks=args.neutral_looks)
        print(f"{files.video}  {clip.fps} fps  {len(clip.events)} events{look}  {clip.caption}")
    return 0
