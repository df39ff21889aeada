"""Measure the procedural world's log-mel ceiling and write it into a model file's mel codec.

    python scripts/mel_ceiling.py MODEL [--clips 400] [--headroom-db D] [--remove]

The embedded model's recipe carries the same ceiling (`WORLD_LOG_MEL_CEILING`); this brings a
model file trained before it (or with another codec config) up to date. `--headroom-db D`
writes the world's loudest plus D dB in every band (tried on the shipped model and not kept:
docs/training.md, "Headroom above the world's loudest").
"""

from __future__ import annotations

import argparse
import sys

from mfmjt_core.codec.mel_ceiling import with_headroom, world_log_mel_ceiling
from mfmjt_core.model.file import read_model, set_mel_ceiling
from mfmjt_core.model.parts import codec_from_dict


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="one of our model files with the mel codec")
    parser.add_argument("--clips", type=int, default=400, help="train-split clips to measure (default 400)")
    parser.add_argument("--headroom-db", type=float, default=0.0,
                        help="raise the ceiling by this many dB in every band (default 0)")
    parser.add_argument("--remove", action="store_true", help="take the ceiling out instead")
    args = parser.parse_args(argv)
    _, config = read_model(args.model)
    codec = codec_from_dict(config["codec"])
    if codec.kind != "mel":
        print(f"{args.model}: its codec is {codec.kind}, not the mel codec", file=sys.stderr)
        return 2
    if args.remove:
        set_mel_ceiling(args.model, None, "removed (scripts/mel_ceiling.py --remove)")
        print(f"{args.model}: no log-mel ceiling")
        return 0
    try:
        ceiling = with_headroom(world_log_mel_ceiling(codec.config, args.clips), args.headroom_db)
    except ValueError as exc:
        print(f"{args.model}: {exc}", file=sys.stderr)
        return 2
    headroom = f" + {args.headroom_db:g} dB" if args.headroom_db else ""
    set_mel_ceiling(args.model, ceiling,
                    f"scripts/mel_ceiling.py: the world's train split, {args.clips} clips{headroom}")
    print(f"{args.model}: log-mel ceiling {min(ceiling):.3f} .. {max(ceiling):.3f} nats over {len(ceiling)} bands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
