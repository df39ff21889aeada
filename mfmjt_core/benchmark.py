"""Stage-by-stage timing of generation for an 8 s clip (`mfmjt bench`).

Times each stage separately (decode, each encoder, one network evaluation, the codec's stages,
resampling), then whole generations: one MeanFlow step against 25 flow-matching Euler steps of
the same network, both with guidance (two branches batched per step). Published sizes run with
random weights, so speed is measured without downloads; their large encoders (CLIP ViT-H,
Synchformer) are timed only with `encoders=True` (minutes on a CPU). Our own models are also
timed as whole single requests through `Generator.generate` (the `mfmjt eval` real-time factor:
decode, encode, sample, codec, resample, with a fresh feature cache each time).
"""

from __future__ import annotations

import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mfmjt_core.model import SamplingSettings
from mfmjt_core.network import VARIANTS, build_network
from mfmjt_core.network.adapter import AverageVelocity
from mfmjt_core.pipeline.sampling import sample_latents

DURATION = 8.0


def _timer(device: torch.device, repeats: int) -> Callable[[Callable[[], object]], float]:
    def measure(fn: Callable[[], object]) -> float:
        fn()  # warm-up (allocations, lazy init, compilation)
        best = float("inf")
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = min(best, time.perf_counter() - t0)
        return best

    return measure


def _test_clip(folder: Path) -> Path:
    from mfmjt_core.synth import make_clip, split_seeds, write_clip

    (seed,) = split_seeds("test", 1)
    return write_clip(make_clip(seed), folder / "bench.mp4").video


def time_whole_request(generator, video: Path, repeats: int = 3) -> dict:
    """Best-of-`repeats` seconds of one warm whole request for `video` (model defaults, 16 kHz),
    plus the median of each stage the generator reports."""
    from mfmjt_core.pipeline.features import FeatureCache

    request = dict(video=video, end=DURATION, seed=0, sample_rate=16_000)
    generator.generate(**request)  # warm-up (allocations, lazy init)
    totals, stages = [], {}
    saved_cache = generator.cache
    try:
        for _ in range(repeats):
            generator.cache = FeatureCache()  # decode and encode the video as a new request would
            generator.model.encoders.clear_text_cache()
            t0 = time.perf_counter()
            result = generator.generate(**request)
            totals.append(time.perf_counter() - t0)
            for k, v in result.timings.items():
                stages.setdefault(k, []).append(v)
    finally:
        generator.cache = saved_cache
    return {"seconds": min(totals), "rtf": min(totals) / DURATION,
            "stages_s": {k: statistics.median(v) for k, v in stages.items()}}


def _parts(model: str | None, device: torch.device, encoders: bool):
    """(name, net, codec, encoders or None, objective, Generator or None)."""
    if model in VARIANTS and model != "tiny_test":
        from mfmjt_core.codec.mmaudio_codec import MMAudioCodec

        g = torch.Generator().manual_seed(0)
        net = build_network(model, generator=g)
        codec = MMAudioCodec.random("16k" if net.config.sequence.sample_rate == 16_000 else "44k", g)
        enc = None
        if encoders:
            from mfmjt_core.encoders.clip import ClipEncoder, build_clip, clip_config
            from mfmjt_core.encoders.mmaudio import MMAudioEncoders
            from mfmjt_core.encoders.synchformer import SynchformerVisual

            enc = MMAudioEncoders(ClipEncoder(build_clip(clip_config())), SynchformerVisual.create(generator=g))
        return f"{model} (random weights)", net, codec, enc, "fm", None
    from mfmjt_core.pipeline.generator import Generator

    gen = Generator.load(model, device=str(device))
    m = gen.model
    return gen.name, m.net, m.codec, m.encoders, m.spec.objective, gen


def run_benchmark(
    model: str | None = None,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    steps: tuple[int, ...] = (1, 25),
    compile: bool = False,
    encoders: bool = False,
    repeats: int = 3,
    guidance: float = 4.5,
) -> dict:
    dev = torch.device(device)
    name, net, codec, enc, objective, generator = _parts(model, dev, encoders)
    net = net.to(dev).eval()
    if isinstance(codec, torch.nn.Module):
        codec = codec.to(dev).eval()
    if enc is not None:
        enc = enc.to(dev).eval()
    measure = _timer(dev, repeats)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dtype == "bf16")
    stages: dict[str, float] = {}
    request = None
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    seq = net.config.sequence.with_duration(DURATION)
    n_clip, n_lat = seq.clip_seq_len, codec.num_latents(DURATION)
    with torch.no_grad(), autocast:
        if enc is not None:
            from mfmjt_core.pipeline.frames import decode_for_encoders

            with tempfile.TemporaryDirectory() as tmp:
                video = _test_clip(Path(tmp))
                stages["decode_video"] = measure(lambda: decode_for_encoders(enc, video, 0.0, DURATION))
                frames8, frames25 = decode_for_encoders(enc, video, 0.0, DURATION)
                if generator is not None:
                    request = time_whole_request(generator, video, repeats)
            stages["encode_clip"] = measure(lambda: enc.encode_clip(frames8[None]))
            stages["encode_sync"] = measure(lambda: enc.encode_sync(frames25[None]))
            stages["encode_text"] = measure(lambda: (enc.clear_text_cache(), enc.encode_text(["a ball bounces"])))
            clip_f, sync_f = enc.encode_video(frames8[None], frames25[None])
            text_f = enc.encode_text(["a ball bounces"])
        else:
            c = net.config
            clip_f = torch.randn(1, n_clip, c.clip_dim, device=dev)
            sync_f = torch.randn(1, seq.sync_seq_len, c.sync_dim, device=dev)
            text_f = torch.randn(1, c.text_seq_len, c.text_dim, device=dev)
        cond = {"clip_f": clip_f.to(dev), "sync_f": sync_f.to(dev), "text_f": text_f.to(dev)}
        forward = torch.compile(net) if compile else net
        u = AverageVelocity(forward, net.config.time_convention)
        noise = torch.randn(1, n_lat, codec.latent_dim, device=dev)
        ones = torch.ones(1, device=dev)

        def guided(k: int, sampler: str = "auto") -> torch.Tensor:
            settings = SamplingSettings(steps=k, guidance=guidance, rescale="zero_star", sampler=sampler)
            return sample_latents(net, objective, cond, noise, settings, forward=forward)

        stages["network_eval"] = measure(lambda: u(noise, 0 * ones, ones, **cond))
        stages["network_eval_guided"] = measure(lambda: guided(1, "meanflow"))
        latent = guided(1, "meanflow")
        if hasattr(codec, "decode_mel"):
            stages["vae_decode"] = measure(lambda: codec.decode_mel(latent))
            mel = codec.decode_mel(latent)
            stages["vocoder"] = measure(lambda: codec.vocoder(mel))
        else:
            stages["codec_decode"] = measure(lambda: codec.decode(latent))
        wave = codec.decode(latent).float().cpu().numpy()
        from mfmjt_core.media import resample

        stages["resample_48k"] = measure(lambda: resample(wave, codec.sample_rate, 48_000))

        sampling = {}
        for k in steps:
            # One MeanFlow step against k flow-matching (Euler) steps of the same network.
            sampler = "meanflow" if k == 1 and objective == "meanflow" else "euler"
            label = f"{'meanflow' if sampler == 'meanflow' else 'flow_matching'}_{k}_steps"
            sampling[label] = measure(lambda k=k, sampler=sampler: guided(k, sampler))

    fixed = sum(v for k, v in stages.items() if k not in ("network_eval", "network_eval_guided"))
    whole = {label: fixed + t for label, t in sampling.items()}
    labels = list(whole)
    result = {
        "model": name, "device": str(dev), "dtype": dtype, "compile": compile, "duration_s": DURATION,
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "stages_s": stages, "sampling_s": sampling, "generation_s": whole,
        "rtf": {label: t / DURATION for label, t in whole.items()},
        "peak_memory_mb": (torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda"
                           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "encoders_timed": enc is not None,
    }
    if request is not None:
        result["request"] = request
    if len(labels) >= 2:
        result["speedup_generation"] = whole[labels[-1]] / whole[labels[0]]
        result["speedup_network"] = sampling[labels[-1]] / sampling[labels[0]]
    return result


def format_table(result: dict) -> str:
    lines = [f"{result['model']} on {result['device']} ({result['dtype']}, torch {result['torch']}, "
             f"{result['threads']} threads), {result['duration_s']:.0f} s clip", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in result["stages_s"].items()]
    lines += [f"| sampling: {k} | {v:.4f} |" for k, v in result["sampling_s"].items()]
    lines += ["", "| generation | seconds | real-time factor |", "|---|---|---|"]
    lines += [f"| {k} | {v:.3f} | {result['rtf'][k]:.4f} |" for k, v in result["generation_s"].items()]
    if "speedup_generation" in result:
        lines += ["", f"one step vs 25 steps: {result['speedup_generation']:.1f}x faster generation, "
                      f"{result['speedup_network']:.1f}x faster sampling"]
    if "request" in result:
        req = result["request"]
        parts = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in req["stages_s"].items())
        lines += ["", "whole request (model defaults, fresh feature cache): "
                      f"{req['seconds']:.3f} s, "
                      f"real-time factor {req['rtf']:.4f}", f"  {parts}"]
    lines.append(f"peak memory: {result['peak_memory_mb']:.0f} MB"
                 + ("" if result["encoders_timed"] else "  (encoders not timed: --encoders)"))
    return "\n".join(lines)
