"""`Generator`: a video range and/or a prompt in, audio out, in one network step by default.

Stages: probe and decode the range (8 fps frames for the CLIP-like stream, 25 fps for sync),
encode (cached per range), sample the latent with MeanFlow (or Euler for flow-matching models)
under guidance, decode to a waveform, stitch windows, resample, fit the exact range length.
Per-request state lives in local values; the loaded model is never mutated, so one Generator
serves requests one after another from any thread (one at a time).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from pathlib import Path

import numpy as np
import torch

import mfmjt_core
from mfmjt_core.errors import MediaError, MissingWeightsError, ResourceError, UnknownModelError
from mfmjt_core.model import AudioModel, tiny_random_spec
from mfmjt_core.pipeline.features import FeatureCache, content_fingerprint, feature_key
from mfmjt_core.pipeline.frames import decode_for_encoders
from mfmjt_core.pipeline.sampling import sample_latents, starting_noise
from mfmjt_core.pipeline.types import (
    CancelToken,
    GenerateRequest,
    GenerationResult,
    ProgressCallback,
)
from mfmjt_core.pipeline.windows import plan_windows, stitch

EMBEDDED_MODEL = Path(mfmjt_core.__file__).parent / "assets" / "mfmjt-tiny-synth.safetensors"
TEST_MODEL = "tiny-random"
WINDOW_OVERLAP_S = 1.0
# Shorter windows are generated at this length and trimmed: encoders need a few frames
# (Synchformer-style segments span 16 frames at 25 fps = 0.64 s).
MIN_WINDOW_S = 1.0
# Ranges may end this far past the video's last frame (editors round to frames); more is an error.
END_TOLERANCE_S = 0.1
# Longest audio one request may ask for (`mfmjt serve --max-seconds` sets the daemon's).
DEFAULT_MAX_SECONDS = 600.0

_log = logging.getLogger(__name__)


def _noop(stage: str, fraction: float) -> None:
    pass


def _encoder_id(model: AudioModel) -> str:
    """Identity of the encoders for the feature cache: a bundle name (its files are checksummed)
    with the frame transform its encoders get, or a digest of our own trained encoder weights."""
    bundle = getattr(model.spec.encoders, "bundle", None)
    if bundle:
        from mfmjt_core.media.mmaudio_transform import TRANSFORM_ID

        return f"bundle:{bundle}:frames={TRANSFORM_ID}"
    from mfmjt_core.model.file import weights_digest

    return f"{model.spec.name}:{model.encoders.name}:{weights_digest(('', model.encoders))}"


def decode_in_chunks(codec, latent: torch.Tensor, check=None, rows: int = 1) -> torch.Tensor:
    """codec.decode of (V, N, C) latents `rows` variations at a time, calling `check()` before
    each chunk, so a cancel waits for one chunk, not for all variations. Rows decode
    independently, so the result is the one-call result."""
    waves = []
    for first in range(0, latent.shape[0], rows):
        if check is not None:
            check()
        waves.append(codec.decode(latent[first:first + rows]))
    return torch.cat(waves)


class Generator:
    def __init__(
        self,
        model: AudioModel,
        *,
        name: str | None = None,
        device: str | torch.device = "cpu",
        cache: FeatureCache | None = None,
        max_duration: float = DEFAULT_MAX_SECONDS,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.name = name or model.spec.name
        self.cache = cache if cache is not None else FeatureCache()
        self.max_duration = max_duration
        self.encoder_id = _encoder_id(model)

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls, name_or_path: str | Path | None = None, *, device: str = "cpu", cache_dir: str | Path | None = None,
        max_duration: float = DEFAULT_MAX_SECONDS,
    ) -> Generator:
        """None: the embedded default; "tiny-random": a small random model for tests and
        benchmarks; a path: one of our model files. max_duration: the longest audio a request
        may ask for, in seconds."""
        generator = cls._load(name_or_path, device=device, cache_dir=cache_dir)
        generator.max_duration = float(max_duration)
        return generator

    @classmethod
    def _load(cls, name_or_path, *, device: str, cache_dir) -> Generator:
        cache = FeatureCache(cache_dir) if cache_dir is not None else None
        if name_or_path is None:
            if not EMBEDDED_MODEL.exists():
                raise MissingWeightsError(
                    f"the embedded default model is missing ({EMBEDDED_MODEL}); build it with "
                    "`mfmjt train tiny-synth --install`"
                )
            return cls(AudioModel.load(EMBEDDED_MODEL), name="mfmjt-tiny-synth (embedded)", device=device, cache=cache)
        if str(name_or_path) == TEST_MODEL:
            g = torch.Generator().manual_seed(0)
            model = AudioModel.create(tiny_random_spec(), generator=g)
            with torch.no_grad():  # wake the zero-initialised modulations so conditions matter
                for p in model.net.parameters():
                    if p.requires_grad and not p.any():
                        p.normal_(0.0, 0.05, generator=g)
            return cls(model, name=TEST_MODEL, device=device, cache=cache)
        from mfmjt_core.weights.registry import DEFAULT_REGISTRY

        if str(name_or_path) in DEFAULT_REGISTRY.bundles:
            from mfmjt_core.model.published import load_published

            return cls(load_published(str(name_or_path), device=device), device=device, cache=cache)
        path = Path(name_or_path)
        if path.suffix == ".safetensors" or path.exists():
            if not path.exists():
                raise MissingWeightsError(f"no model file at {path}")
            return cls(AudioModel.load(path), name=path.stem, device=device, cache=cache)
        raise UnknownModelError(
            f"unknown model {name_or_path!r}: give a .safetensors file, {TEST_MODEL!r}, or nothing for the "
            "embedded default (`mfmjt models` lists published bundles)"
        )

    def describe(self) -> dict:
        spec = self.model.spec
        return {
            "name": self.name,
            "native_sample_rate": self.model.codec.sample_rate,
            "window_s": spec.window_s,
            "objective": spec.objective,
            "modalities": ["video", "text"],
            "defaults": spec.defaults.to_dict(),
            "device": str(self.device),
        }

    def warm_up(self) -> float:
        """One short text-only generation, discarded, so a daemon's first request does not pay
        for what loads lazily (the tokenizer, the level meters, first-call kernels: about 3 s
        on this project's CPU); returns its seconds."""
        clock = time.perf_counter()
        self.generate(prompt="warm-up", duration=MIN_WINDOW_S, seed=0)
        return time.perf_counter() - clock

    # -- generation ---------------------------------------------------------------------------

    def generate(self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                 **request) -> GenerationResult:
        """Keyword form of `run`: the same fields as `GenerateRequest`."""
        if request.get("video") is not None:
            request["video"] = Path(request["video"])
        return self.run(GenerateRequest(**request), progress=progress, cancel=cancel)

    def run(self, request: GenerateRequest, *, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None) -> GenerationResult:
        progress = progress or _noop
        cancel = cancel or CancelToken()
        timings: dict[str, float] = {}
        start, length = self._resolve_range(request, timings)
        self._check_negative(request)
        windows = plan_windows(length, self.model.spec.window_s, WINDOW_OVERLAP_S)
        base_seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        seeds = tuple(base_seed + k for k in range(request.variations))

        with torch.no_grad():
            text_f, uncond_text_f = self._text(request, timings)
            pieces = []
            for w in windows:
                cancel.raise_if_cancelled()
                w = dataclasses.replace(w, duration=max(w.duration, MIN_WINDOW_S))  # stitch trims back
                clip_f, sync_f = self._video_features(request, start + w.start, w.duration, timings)
                progress("encode", w.index / len(windows))  # sampling reports from here on: never backwards
                cancel.raise_if_cancelled()
                # (the window ends in its decode_audio report: each stage is reported once, in order)
                pieces.append(self._sample_window(w, clip_f, sync_f, text_f, uncond_text_f, seeds, request, timings,
                                                  progress, cancel, len(windows)))
        cancel.raise_if_cancelled()
        native = self.model.codec.sample_rate
        audio = stitch(pieces, windows, native, round(length * native))
        t0 = time.perf_counter()
        from mfmjt_core.media import fit_length, resample

        audio = fit_length(resample(audio, native, request.sample_rate), round(length * request.sample_rate))
        audio = np.repeat(audio[:, None, :], request.channels, axis=1)  # (V, C, N): mono model
        timings["resample"] = time.perf_counter() - t0
        progress("resample", 1.0)
        audio, levels = self._levels(audio, request, timings)
        return GenerationResult(
            audio=np.ascontiguousarray(audio, dtype=np.float32), sample_rate=request.sample_rate, seeds=seeds,
            model=self.name, timings=timings, start=start, duration=length, levels=levels,
        )

    @staticmethod
    def _levels(audio: np.ndarray, request: GenerateRequest, timings: dict):
        """Each take at the requested loudness and under the true-peak ceiling (both optional);
        without either (the evaluation's raw output), still within full scale."""
        from mfmjt_core.media.levels import apply_levels, within_full_scale

        if request.loudness is None and request.peak_ceiling is None:
            return np.stack([within_full_scale(take) for take in audio]), ()

        t0 = time.perf_counter()
        takes = [apply_levels(take, request.sample_rate, loudness=request.loudness,
                              peak_ceiling=request.peak_ceiling) for take in audio]
        timings["levels"] = time.perf_counter() - t0
        return np.stack([t for t, _ in takes]), tuple(level for _, level in takes)

    def _resolve_range(self, request: GenerateRequest, timings: dict) -> tuple[float, float]:
        if request.video is None:
            start, length = 0.0, float(request.duration)
        else:
            from mfmjt_core.media import probe

            t0 = time.perf_counter()
            info = probe(request.video)
            timings["probe"] = time.perf_counter() - t0
            if not info.has_video:
                raise MediaError(f"{request.video} has no video stream")
            start = 0.0 if request.start is None else float(request.start)
            if request.end is not None:
                end = float(request.end)
            elif request.duration is not None:  # from `start` for `duration` seconds
                end = start + float(request.duration)
            else:
                end = info.duration_s
            if start < 0 or start >= info.duration_s:
                raise MediaError(f"range start {start:.3f} s is outside the video (0 to {info.duration_s:.3f} s)")
            if end <= start:
                raise MediaError(f"empty range: end {end:.3f} s is not after start {start:.3f} s")
            if end > info.duration_s + END_TOLERANCE_S:
                raise MediaError(f"range end {end:.3f} s is past the end of the video ({info.duration_s:.3f} s)")
            length = end - start
        if length > self.max_duration:
            raise ResourceError(f"{length:.3f} s of audio is longer than the limit of {self.max_duration:g} s "
                                "(max_seconds)")
        return start, length

    def _check_negative(self, request: GenerateRequest) -> None:
        """A negative prompt only acts through guidance's unconditional branch: say when this
        request has none (a take identical to one without it would otherwise go unexplained)."""
        if not request.negative_prompt.strip():
            return
        settings = self.model.spec.defaults.resolve(request, has_picture=request.video is not None)
        if getattr(self.model.net.config, "guidance_input", False) or not settings.guided:
            _log.warning("the negative prompt changes nothing here: this request samples without guidance's "
                         "unconditional branch (scale %g, mode %s); give a guidance above 1 for it to count",
                         settings.guidance, settings.rescale)

    def _text(self, request: GenerateRequest, timings: dict) -> tuple[torch.Tensor, torch.Tensor]:
        t0 = time.perf_counter()
        net, enc = self.model.net, self.model.encoders
        empty = net.empty_string_feat.unsqueeze(0)
        text_f = enc.encode_text([request.prompt]) if request.prompt.strip() else empty
        negative = enc.encode_text([request.negative_prompt]) if request.negative_prompt.strip() else empty
        timings["encode_text"] = time.perf_counter() - t0
        return text_f.to(self.device), negative.to(self.device)

    def _video_features(self, request: GenerateRequest, start: float, duration: float, timings: dict):
        enc, net = self.model.encoders, self.model.net
        shapes = enc.feature_shapes(duration)
        if request.video is None:
            return (net.empty_clip_feat.unsqueeze(0).expand(1, shapes.clip[0], -1),
                    net.empty_sync_feat.unsqueeze(0).expand(1, shapes.sync[0], -1))
        key = feature_key(content_fingerprint(request.video), start, start + duration, self.encoder_id)

        def compute() -> dict[str, torch.Tensor]:
            t0 = time.perf_counter()
            frames8, frames25 = decode_for_encoders(enc, request.video, start, start + duration)
            t1 = time.perf_counter()
            clip_f, sync_f = enc.encode_video(frames8[None], frames25[None])
            timings["decode_video"] = timings.get("decode_video", 0.0) + t1 - t0
            timings["encode_video"] = timings.get("encode_video", 0.0) + time.perf_counter() - t1
            return {"clip_f": clip_f[0], "sync_f": sync_f[0]}

        feats = self.cache.get(key, compute)
        return feats["clip_f"][None].to(self.device), feats["sync_f"][None].to(self.device)

    def _sample_window(self, w, clip_f, sync_f, text_f, uncond_text_f, seeds, request, timings,
                       progress=_noop, cancel: CancelToken | None = None, num_windows: int = 1) -> np.ndarray:
        model, spec = self.model, self.model.spec
        codec, net = model.codec, model.net
        n = codec.num_latents(w.duration)
        v = len(seeds)
        settings = spec.defaults.resolve(request, has_picture=request.video is not None)
        noise = starting_noise(seeds, n, codec.latent_dim, window=w.index, temperature=settings.temperature).to(
            self.device
        )
        cond = {"clip_f": clip_f.expand(v, -1, -1), "sync_f": sync_f.expand(v, -1, -1),
                "text_f": text_f.expand(v, -1, -1)}
        t0 = time.perf_counter()
        cancel = cancel or CancelToken()

        def check(done: float) -> None:  # before every network evaluation
            progress("sample", (w.index + done) / num_windows)
            cancel.raise_if_cancelled()

        x = sample_latents(net, spec.objective, cond, noise, settings, negative_text_f=uncond_text_f, check=check)
        t1 = time.perf_counter()
        progress("decode_audio", (w.index + 1) / num_windows)  # clients show the stage that runs
        latent = codec.median_over_time(net.unnormalize(x), settings.median_frames)
        wave = decode_in_chunks(codec, latent, cancel.raise_if_cancelled)
        timings["sample"] = timings.get("sample", 0.0) + t1 - t0
        timings["decode_audio"] = timings.get("decode_audio", 0.0) + time.perf_counter() - t1
        return wave.float().cpu().numpy()
