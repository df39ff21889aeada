"""Codec quality and speed measurements: a synthetic test signal, log-spectral distance, timing.

Run `python -m mfmjt_core.codec.codec_measure mel 16k` to print round-trip quality and encode /
decode times for 8 s of audio (the MMAudio codecs use random weights: timing only).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import torch

from mfmjt_core.codec.audio_codec import AudioCodec


def impact_noise_signal(
    duration_s: float, sample_rate: int, generator: torch.Generator
) -> torch.Tensor:
    """(n,) test signal: decaying modal impacts, a harmonic hum and a filtered noise bed."""
    n = int(round(duration_s * sample_rate))
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    rand = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float64)
    signal = torch.zeros(n, dtype=torch.float64)
    for onset in torch.sort(rand(max(1, int(duration_s * 1.5))) * duration_s).values:
        local = (t - onset).clamp(min=0.0)
        for _ in range(3):  # three damped modes per impact
            freq = 200.0 + 3000.0 * rand(1).item()
            decay = 8.0 + 40.0 * rand(1).item()
            signal += (
                (t >= onset)
                * 0.3
                * torch.exp(-decay * local)
                * torch.sin(2 * math.pi * freq * local)
            )
    hum_f0 = 90.0 + 60.0 * rand(1).item()
    signal += sum(0.05 / k * torch.sin(2 * math.pi * k * hum_f0 * t) for k in range(1, 6))
    noise = torch.randn(n, generator=generator, dtype=torch.float64)
    smoothed = torch.nn.functional.avg_pool1d(noise[None, None], 5, 1, 2)[0, 0]  # gentle low-pass
    signal += 0.03 * smoothed
    return (signal / signal.abs().max().clamp(min=1.0)).to(torch.float32)


def log_spectral_distance(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    n_fft: int = 1024,
    hop: int = 256,
    floor_db: float = -80.0,
) -> float:
    """Mean over frames of the RMS (over bins) dB difference of the power spectra.

    Both spectra are floored `floor_db` below the reference's peak, so silence does not dominate.
    """
    length = min(reference.shape[-1], estimate.shape[-1])
    window = torch.hann_window(n_fft, dtype=torch.float64)

    def power_db(x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x[..., :length].double(), n_fft, hop, window=window, return_complex=True)
        return 10 * torch.log10(spec.abs().pow(2) + 1e-20)

    ref, est = power_db(reference), power_db(estimate)
    floor = ref.amax() + floor_db
    diff = ref.clamp(min=floor) - est.clamp(min=floor)
    return diff.pow(2).mean(dim=-2).sqrt().mean().item()


@dataclass(frozen=True)
class CodecTiming:
    """Best-of-`repeats` times in seconds for one (1, n) clip: wall clock and process CPU time.

    On a machine shared with other work, the CPU time of a single-threaded run is the better
    estimate of the unloaded wall time.
    """

    duration_s: float
    encode_s: float
    decode_s: float
    encode_cpu_s: float
    decode_cpu_s: float


def _timed(fn, arg, sync):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(arg)
    sync()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def time_codec(
    codec: AudioCodec,
    duration_s: float = 8.0,
    repeats: int = 3,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> CodecTiming:
    """Time encode and decode of `duration_s` seconds of the synthetic signal (after a warm-up).

    The codec must already be on `device`; CUDA work is synchronised before each clock stops.
    """
    generator = generator or torch.Generator().manual_seed(0)
    wave = impact_noise_signal(duration_s, codec.sample_rate, generator)[None].to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else lambda: None
    latent = codec.encode(wave)
    codec.decode(latent[:, :2])  # warm-up: first-call allocator and kernel set-up
    enc, dec = [], []
    for _ in range(repeats):
        latent, wall, cpu = _timed(codec.encode, wave, sync)
        enc.append((wall, cpu))
        _, wall, cpu = _timed(codec.decode, latent, sync)
        dec.append((wall, cpu))
    return CodecTiming(
        duration_s,
        min(w for w, _ in enc),
        min(w for w, _ in dec),
        min(c for _, c in enc),
        min(c for _, c in dec),
    )


def _build(name: str) -> AudioCodec:
    if name == "mel":
        from mfmjt_core.codec.mel_codec import MelCodec

        return MelCodec()
    from mfmjt_core.codec.mmaudio_codec import MMAudioCodec

    return MMAudioCodec.random(name, torch.Generator().manual_seed(0))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Print quality (mel codec) and timing for the named codecs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("codecs", nargs="*", default=["mel", "16k"], choices=["mel", "16k", "44k"])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda")
    args = parser.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}, device: {args.device}")
    for name in args.codecs:
        codec = _build(name).to(args.device)
        timing = time_codec(codec, args.seconds, args.repeats, device=args.device)
        ms = {k: round(v * 1000) for k, v in vars(timing).items() if k.endswith("_s")}
        line = (
            f"{name}: encode {ms['encode_s']} ms (cpu {ms['encode_cpu_s']}), "
            f"decode {ms['decode_s']} ms (cpu {ms['decode_cpu_s']}) for {args.seconds:g} s "
            f"({codec.num_latents(args.seconds)} latents x {codec.latent_dim})"
        )
        if name == "mel":
            wave = impact_noise_signal(
                args.seconds, codec.sample_rate, torch.Generator().manual_seed(1)
            )
            out = codec.decode(codec.encode(wave[None].to(args.device)))[0].cpu()
            line += f"; round-trip LSD {log_spectral_distance(wave, out):.2f} dB"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
