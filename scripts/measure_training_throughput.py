"""Measure the cost of each training-pipeline step with full-size, random-weight components.

For docs/training.md: per 8-second clip, the seconds and floating-point operations of
  - the network's training step (forward, backward, AdamW) for flow matching, and for a
    MeanFlow row with r != t (its target needs the JVP), at a given batch,
  - MMAudio's VAE encoder (mel + encoder) at 16 kHz and 44.1 kHz,
  - Synchformer on one 16-frame segment (an 8 s clip has 24),
  - the CLIP ViT-H/14 image tower on one 384 px frame (an 8 s clip has 64) and its text tower
    on one caption,
and the forward FLOPs of every network variant and the activation memory its training forward
saves per row (both counted on the meta device: nothing runs).

Weights are random (nothing is downloaded): the cost of a step does not depend on the values.
FLOPs come from `torch.utils.flop_counter` (matrix products and convolutions, the bulk of the
work). The times are best-of-N on this machine's CPU in fp32; run it with OMP_NUM_THREADS=1 on a
shared machine. GPU figures are NOT measured here: derive them from the FLOPs.

    OMP_NUM_THREADS=1 python scripts/measure_training_throughput.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

CLIP_FRAMES = 64  # 8 s at 8 fps
SYNC_SEGMENTS = 24  # 8 s at 25 fps: 200 frames, 16-frame segments with stride 8
PARTS = ("net", "vae", "sync", "clip", "flops", "memory")


def count_and_time(fn: Callable[[], object], repeats: int) -> dict:
    """FLOPs of one call (that call is also the warm-up), then the best of `repeats` timed calls."""
    with FlopCounterMode(display=False) as counter:
        fn()
    flops = counter.get_total_flops()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return {"seconds": best, "flops": flops}


def _conditions(net, batch: int, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    c, seq = net.config, net.config.sequence
    g = torch.Generator().manual_seed(1)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).to(device) if device != "meta" else torch.empty(*shape, device="meta")

    return {"clip_f": rand(batch, seq.clip_seq_len, c.clip_dim), "sync_f": rand(batch, seq.sync_seq_len, c.sync_dim),
            "text_f": rand(batch, c.text_seq_len, c.text_dim)}


def measure_network(variant: str, batch: int, repeats: int) -> dict:
    """One optimiser step of flow matching, and of MeanFlow with every row r != t (the rows whose
    target runs the JVP; rows with r = t cost what a flow-matching row costs)."""
    from mfmjt_core.flows import fm_loss, meanflow_loss
    from mfmjt_core.network import build_network
    from mfmjt_core.network.adapter import AverageVelocity

    g = torch.Generator().manual_seed(0)
    net = build_network(variant, generator=g).train()
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-5)
    u = AverageVelocity(net)
    seq = net.config.sequence
    x = torch.randn(batch, seq.latent_seq_len, net.config.latent_dim, generator=g)
    noise = torch.randn(x.shape, generator=g)
    cond = _conditions(net, batch)
    t = torch.full((batch,), 0.7)
    r = torch.full((batch,), 0.3)

    def step(loss_fn: Callable[[], torch.Tensor]) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    fm = count_and_time(lambda: step(lambda: fm_loss(u, x, cond=cond, noise=noise, t=t)[0]), repeats)
    mf = count_and_time(lambda: step(lambda: meanflow_loss(u, x, cond=cond, noise=noise, t=t, r=r,
                                                           jvp_model=u)[0]), repeats)
    return {"variant": variant, "params": params, "batch": batch, "latent_shape": list(x.shape[1:]),
            "fm_step": fm, "meanflow_jvp_step": mf}


def measure_vae(variant: str, repeats: int) -> dict:
    from mfmjt_core.codec.mmaudio_codec import MMAudioCodec

    codec = MMAudioCodec.random(variant, torch.Generator().manual_seed(0))
    wave = torch.randn(1, round(8.0 * codec.sample_rate), generator=torch.Generator().manual_seed(1)).clamp(-1, 1) * 0.3
    out = count_and_time(lambda: codec.encode_distribution(wave), repeats)
    mean, _ = codec.encode_distribution(wave)
    vae_params = sum(p.numel() for p in codec.vae.parameters())
    return {"variant": variant, "vae_params": vae_params, "latent_shape": list(mean.shape[1:]), "encode_8s": out}


def measure_sync(repeats: int) -> dict:
    from mfmjt_core.encoders.synchformer import SynchformerVisual

    sync = SynchformerVisual.create(generator=torch.Generator().manual_seed(0))
    segment = torch.rand(1, 3, 16, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out = count_and_time(lambda: sync(segment), repeats)
    return {"params": sum(p.numel() for p in sync.parameters()), "segment": out, "segments_per_clip": SYNC_SEGMENTS}


def measure_clip(repeats: int) -> dict:
    from mfmjt_core.encoders.clip import ClipEncoder, build_clip, clip_config

    model = build_clip(clip_config())  # empty storage: give it finite random values
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    enc = ClipEncoder(model)
    frame = torch.rand(1, 3, enc.image_size, enc.image_size, generator=g)
    tokens = enc.tokenize(["a dog barks while a car passes by"])
    with torch.inference_mode():
        image = count_and_time(lambda: enc.encode_images(frame), repeats)
        text = count_and_time(lambda: enc.encode_tokens(tokens), repeats)
    visual = sum(p.numel() for p in model.visual.parameters())
    return {"image_size": enc.image_size, "visual_params": visual,
            "params": sum(p.numel() for p in model.parameters()), "image_frame": image,
            "frames_per_clip": CLIP_FRAMES, "text_caption": text}


def count_variant_flops() -> dict:
    """Forward FLOPs of one 8 s row for every published variant, on the meta device."""
    from mfmjt_core.network import VARIANTS, build_network

    out = {}
    for variant in VARIANTS:
        if variant == "tiny_test":
            continue
        net = build_network(variant, device="meta")
        x = torch.empty(1, net.config.sequence.latent_seq_len, net.config.latent_dim, device="meta")
        t = torch.empty(1, device="meta")
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(x, t, **_conditions(net, 1, "meta"), h=t)
        out[variant] = {"params": sum(p.numel() for p in net.parameters()),
                        "latent_shape": list(x.shape[1:]), "forward_flops": counter.get_total_flops()}
    return out


class _SavedStorages:
    """Distinct storages of the tensors autograd saves (views of one storage count once;
    parameters are not activations). Storages are kept alive so their ids stay unique."""

    def __init__(self) -> None:
        self.storages: dict[int, torch.UntypedStorage] = {}

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        if not isinstance(tensor, torch.nn.Parameter):
            storage = tensor.untyped_storage()
            self.storages[id(storage)] = storage
        return tensor

    def nbytes(self) -> int:
        return sum(s.nbytes() for s in self.storages.values())


def count_variant_memory() -> dict:
    """Per variant: bytes of the tensors one 8 s row's training forward saves for its backward
    (fp32, counted on the meta device: nothing runs), and the parameter count."""
    from mfmjt_core.network import VARIANTS, build_network

    out = {}
    for variant in VARIANTS:
        if variant == "tiny_test":
            continue
        net = build_network(variant, device="meta").train()
        x = torch.empty(1, net.config.sequence.latent_seq_len, net.config.latent_dim, device="meta")
        t = torch.empty(1, device="meta")
        saved = _SavedStorages()
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda tensor: tensor):
            net(x.requires_grad_(), t, **_conditions(net, 1, "meta"), h=t)
        out[variant] = {"params": sum(p.numel() for p in net.parameters()),
                        "saved_activation_bytes_per_row_fp32": saved.nbytes()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--variant", default="small_16k", help="network variant whose training step is timed")
    parser.add_argument("--batch", type=int, default=1, help="rows per timed training step (default 1)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per part; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}")
    result: dict = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                                "torch": torch.__version__, "dtype": "float32"}}
    steps = {"net": lambda: measure_network(args.variant, args.batch, args.repeats),
             "vae": lambda: [measure_vae(v, args.repeats) for v in ("16k", "44k")],
             "sync": lambda: measure_sync(args.repeats), "clip": lambda: measure_clip(args.repeats),
             "flops": count_variant_flops, "memory": count_variant_memory}
    for part in parts:
        t0 = time.perf_counter()
        result[part] = steps[part]()
        print(f"{part} ({time.perf_counter() - t0:.0f} s): {json.dumps(result[part])}", file=sys.stderr, flush=True)
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
