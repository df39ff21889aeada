"""Timings and resampler quality for the media layer: `python -m mfmjt_core.media.media_timing`.

1. Decoding an 8 s range of a 640x360 29.97 fps H.264 clip at 8 fps/384 (CLIP) and 25 fps/224
   (sync encoder).
2. PyAV's libswresample (defaults, and tuned options) against torchaudio's Kaiser resampler on
   an 8 s stereo linear sweep: time, passband error against the analytic sweep, alias level
   (downsampling: output while the input sweep is above the new Nyquist) and image level
   (upsampling: output energy above the input Nyquist).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SWEEP_SECONDS = 8.0
RATE_PAIRS = ((48_000, 16_000), (44_100, 48_000), (16_000, 48_000), (48_000, 44_100))
SWR_TUNED = {"filter_size": "128", "cutoff": "0.95", "phase_shift": "12", "kaiser_beta": "12"}


def make_test_clip(path: Path, seconds: float = 12.0, gop_seconds: float = 2.0) -> Path:
    """A 640x360 29.97 fps clip with moving texture, so the decoder does real work."""
    from mfmjt_core.media import write_video

    rate = Fraction(30000, 1001)
    count = int(seconds * rate)
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (360, 640 + count * 4, 3), dtype=np.uint8)
    texture = ((texture.astype(np.uint16) + np.roll(texture, 1, axis=1)) // 2).astype(np.uint8)
    frames = np.stack([texture[:, 4 * i : 4 * i + 640] for i in range(count)])
    return write_video(path, frames, rate, crf=23, gop=round(gop_seconds * float(rate)))


def time_decoding(path: Path, start: float = 2.0, end: float = 10.0, repeats: int = 3) -> dict:
    """Best-of-`repeats` seconds for clip_frames and sync_frames over [start, end)."""
    from mfmjt_core.media import clip_frames, sync_frames

    results = {}
    for name, fn in (("clip 8fps 384x384", clip_frames), ("sync 25fps 224 crop", sync_frames)):
        best, batch = float("inf"), None
        for _ in range(repeats):
            begun = time.perf_counter()
            batch = fn(path, start, end)
            best = min(best, time.perf_counter() - begun)
        results[name] = (best, batch.frames.shape)
    return results


def swr_resample(wave: np.ndarray, sr_in: int, sr_out: int, options: dict | None = None):
    """libswresample through PyAV's AudioResampler, fed in 4096-sample frames."""
    import av

    layout = {1: "mono", 2: "stereo"}[wave.shape[0]]
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sr_out, options=options)
    out = []
    for i in range(0, wave.shape[1], 4096):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(wave[:, i : i + 4096]), format="fltp", layout=layout
        )
        frame.sample_rate, frame.pts, frame.time_base = sr_in, i, Fraction(1, sr_in)
        out += resampler.resample(frame)
    out += resampler.resample(None)
    return np.concatenate([f.to_ndarray() for f in out], axis=1)


def _sweep_phase(t: np.ndarray, f1: float) -> np.ndarray:
    f0 = 20.0
    return 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / SWEEP_SECONDS * t * t)


def sweep_quality(y: np.ndarray, sr_in: int, sr_out: int) -> dict:
    """Passband error, alias and image levels (dB) of a resampled 20 Hz..sr_in/2 sweep."""
    f1 = sr_in / 2
    t = np.arange(y.shape[-1]) / sr_out
    freq = 20.0 + (f1 - 20.0) * t / SWEEP_SECONDS
    ideal = 0.5 * np.sin(_sweep_phase(t, f1))
    nyquist = min(sr_in, sr_out) / 2
    out = {}
    for frac in (0.8, 0.9):
        keep = (freq < frac * nyquist) & (t > 0.05)
        err = y[keep] - ideal[keep]
        out[f"err<{frac}Ny"] = 10 * np.log10(np.mean(err**2) / np.mean(ideal[keep] ** 2))
    if sr_out < sr_in:
        stop = (freq > 1.05 * nyquist) & (t < SWEEP_SECONDS - 0.05)
        out["alias"] = 10 * np.log10(np.mean(y[stop] ** 2) / 0.125 + 1e-30)
    else:
        spectrum = np.abs(np.fft.rfft(y)) ** 2
        bins = np.fft.rfftfreq(len(y), 1 / sr_out)
        out["image"] = 10 * np.log10(spectrum[bins > 1.02 * sr_in / 2].sum() / spectrum.sum())
    return out


def compare_resamplers(repeats: int = 3) -> list[tuple]:
    """Rows (pair, method, ms for 8 s stereo, quality dict)."""
    import torch
    import torchaudio.functional as taf

    from mfmjt_core.media.resample import resample

    methods = {
        "swr default": lambda x, a, b: swr_resample(x, a, b),
        "swr tuned": lambda x, a, b: swr_resample(x, a, b, SWR_TUNED),
        "torchaudio default": lambda x, a, b: taf.resample(torch.from_numpy(x), a, b).numpy(),
        "torchaudio kaiser (chosen)": resample,
    }
    rows = []
    for sr_in, sr_out in RATE_PAIRS:
        t = np.arange(round(SWEEP_SECONDS * sr_in)) / sr_in
        mono = 0.5 * np.sin(_sweep_phase(t, sr_in / 2))
        stereo = np.stack([mono, mono]).astype(np.float32)
        for name, fn in methods.items():
            fn(stereo, sr_in, sr_out)  # warm up (kernel caches, first-call costs)
            best = float("inf")
            for _ in range(repeats):
                begun = time.perf_counter()
                y = fn(stereo, sr_in, sr_out)
                best = min(best, time.perf_counter() - begun)
            quality = sweep_quality(y[0], sr_in, sr_out)
            rows.append((f"{sr_in}->{sr_out}", name, best * 1e3, quality))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--skip-resample", action="store_true")
    parser.add_argument("--torch-threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    if not args.skip_decode:
        with tempfile.TemporaryDirectory() as folder:
            clip = make_test_clip(Path(folder) / "bench_640x360_29.97.mp4")
            print(f"decode [2, 10) s of a 640x360 29.97 fps H.264 clip ({clip.stat().st_size} B):")
            for name, (seconds, shape) in time_decoding(clip).items():
                print(f"  {name:22s} {seconds * 1e3:7.1f} ms  frames {shape}")
    if not args.skip_resample:
        print(f"resampling {SWEEP_SECONDS:.0f} s stereo sweep (dB; lower is better):")
        for pair, name, ms, quality in compare_resamplers():
            metrics = "  ".join(f"{k} {v:7.1f}" for k, v in quality.items())
            print(f"  {pair:13s} {name:27s} {ms:6.1f} ms  {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
