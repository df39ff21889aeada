"""`mfmjt demo`: a test clip from the procedural world, its generated sound, and a preview."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "demo"
HELP = "make a test clip, generate its sound with the embedded model, write a muxed preview"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="mfmjt-demo", help="output folder (default ./mfmjt-demo)")
    parser.add_argument("--seed", type=int, default=0, help="which test clip of the world (default 0)")
    parser.add_argument("--model", help="model file or name (default: the embedded model)")


def run(args: argparse.Namespace) -> int:
    from mfmjt_cli.progress_line import ProgressLine
    from mfmjt_core.media import mux_audio, write_audio
    from mfmjt_core.pipeline.generator import Generator
    from mfmjt_core.synth import make_clip, split_seeds, write_clip

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (seed,) = split_seeds("test", 1, start=args.seed)
    clip = make_clip(seed)
    files = write_clip(clip, out / "clip.mp4")
    generator = Generator.load(args.model)
    bar = ProgressLine()
    try:
        result = generator.generate(video=files.video, seed=args.seed, channels=2, progress=bar)
    finally:
        bar.close()
    generated = write_audio(out / "generated.wav", result.audio[0], result.sample_rate)
    preview = mux_audio(files.video, result.audio[0], result.sample_rate, out / "preview.mp4")
    total = sum(result.timings.values())
    print(f"clip:      {files.video}  ({clip.caption})")
    print(f"original:  {files.wav}")
    print(f"generated: {generated}  ({result.model}, seed {result.seeds[0]}, {total:.2f} s for "
          f"{result.duration:.2f} s of audio)")
    print(f"preview:   {preview}  (the clip with the generated sound)")
    print("timings:   " + ", ".join(f"{k} {v:.3f}s" for k, v in result.timings.items()), file=sys.stderr)
    return 0
