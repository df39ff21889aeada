"""`mfmjt extract INPUT OUT`: features for training (sharded, resumable, torchrun-aware)."""

from __future__ import annotations

import argparse

NAME = "extract"
HELP = "extract training features (frames, sync, text, latent mean/std) from videos or a clip list"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="a folder of videos (and audio), or a CSV / TSV / JSON list of clips")
    parser.add_argument("out", help="feature folder (rerun the same command to resume)")
    parser.add_argument("--encoders", default="small",
                        help="small (the embedded model's), mmaudio[:BUNDLE] (CLIP + Synchformer, "
                             "default bundle mmaudio-small-16k), or one of our model files")
    parser.add_argument("--codec", default="auto",
                        help="auto (the encoders' own), mmaudio-16k, mmaudio-44k, or a model file")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per clip (default 8)")
    parser.add_argument("--shard-size", type=int, default=256, help="rows per shard file (default 256)")
    parser.add_argument("--workers", type=int, default=0, help="decoding processes (default 0: inline)")
    parser.add_argument("--batch-size", type=int, default=16, help="rows per encoder call (default 16)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda (each torchrun rank takes its LOCAL_RANK)")
    parser.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"),
                        help="storage type of the frame, sync and text features (default float16)")
    parser.add_argument("--media-root", help="folder that list entries are relative to (default: the list's)")
    parser.add_argument("--split", help="keep only rows of this split (lists with a split column)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def run(args: argparse.Namespace) -> int:
    import torch

    from mfmjt_core.training.extract import ExtractConfig, extract

    if args.threads:
        torch.set_num_threads(args.threads)
    config = ExtractConfig(
        source=args.input, out=args.out, encoders=args.encoders, codec=args.codec, duration=args.duration,
        shard_size=args.shard_size, workers=args.workers, batch_size=args.batch_size, device=args.device,
        feature_dtype=args.dtype, media_root=args.media_root, split=args.split,
    )
    summary = extract(config)
    if summary.index is not None:
        print(summary.index)
    return 0
