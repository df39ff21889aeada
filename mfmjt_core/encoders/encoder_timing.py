"""Time the encoders on random weights: `python -m mfmjt_core.encoders.encoder_timing sync|small|clip`.

Weights are random (the published files are not needed for timing); inputs are random frames
of the sizes the media layer delivers for `--duration` seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mfmjt_core.encoders.encoder_set import clip_frame_count, sync_frame_count


def _time(fn, repeats: int, warmup: int, device: torch.device):
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - start)
    return times, out


def _frames(n: int, size: int, device: torch.device, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (1, n, size, size, 3), generator=g, dtype=torch.uint8).to(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["sync", "small", "clip"])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--segments-per-batch", type=int, default=0)
    parser.add_argument("--frame-size", type=int, default=64, help="small set: input frame size")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    g = torch.Generator().manual_seed(0)

    if args.what == "sync":
        from mfmjt_core.encoders.synchformer import SynchformerVisual

        model = SynchformerVisual.create(generator=g).to(device, dtype)
        frames = _frames(sync_frame_count(args.duration), 224, device, 1)
        x = frames.permute(0, 1, 4, 2, 3).float() / 255

        def fn():
            with torch.inference_mode():
                return model.encode_frames(x, args.segments_per_batch)
    elif args.what == "small":
        from mfmjt_core.encoders.small import SmallEncoders

        model = SmallEncoders.create(generator=g, device=device).eval()
        f8 = _frames(clip_frame_count(args.duration), args.frame_size, device, 1)
        f25 = _frames(sync_frame_count(args.duration), args.frame_size, device, 2)

        def fn():
            with torch.inference_mode():
                return model.encode_video(f8, f25)
    else:
        from mfmjt_core.encoders.clip import ClipEncoder, build_clip, clip_config
        from mfmjt_core.encoders.params import init_parameters

        net = build_clip(clip_config(), device)
        init_parameters(net, g)
        model = ClipEncoder(net).to(device, dtype)
        x = _frames(clip_frame_count(args.duration), 384, device, 1)[0].permute(0, 3, 1, 2)
        x = x.float() / 255

        def fn():
            with torch.inference_mode():
                return model.encode_images(x)

    times, out = _time(fn, max(1, args.repeats), args.warmup, device)
    shape = [tuple(o.shape) for o in out] if isinstance(out, tuple) else tuple(out.shape)
    print(f"{args.what}: {args.duration:g} s of video on {device} ({args.dtype}, "
          f"{torch.get_num_threads()} threads): output {shape}; "
          f"median {statistics.median(times):.3f} s, min {min(times):.3f} s over {len(times)}")


if __name__ == "__main__":
    main()
