"""Turning input rows into features: decoding (in worker processes) and encoding (batched).

Decoding mirrors what generation does with a range, so training sees the features inference
sees: 8 fps frames for the CLIP-like stream and 25 fps frames for sync, sampled by timestamp
(`media.decode_frames`), and mono audio at the codec's rate cut to exactly `duration` seconds.
Encoding gives the codec latent's mean and std (MMAudio trains on mean + std * noise; codecs
without a distribution store std 0) and the encoders' frame, sync and text features.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from mfmjt_core.encoders.encoder_set import EncoderSet
from mfmjt_core.errors import MediaError, MfmjtError
from mfmjt_core.training.features_inputs import InputRow

# A file may end this much before start + duration (containers round their durations).
END_TOLERANCE_S = 0.1


class ClipTooShortError(MediaError):
    """The media (or the row's end) leaves less than the extraction's duration."""


@dataclass(frozen=True)
class RowDecoder:
    """Decodes one row to CPU tensors; picklable and safe to run in data-loader workers."""

    duration: float
    sample_rate: int
    frame_specs: tuple  # media.FrameSpec at 8 and 25 fps: exactly as generation decodes for the encoders

    def __call__(self, row: InputRow) -> dict:
        try:
            return self.decode(row)
        except Exception as exc:  # one bad file never stops an extraction
            return {"error": describe_error(exc)}

    def decode(self, row: InputRow) -> dict:
        from mfmjt_core import media

        info = media.probe(row.path)
        if not info.has_audio:
            raise media.NoAudioStreamError(f"{row.path} has no audio stream")
        start, end = row.start, row.start + self.duration
        limit = info.duration_s if row.end is None else min(row.end, info.duration_s)
        if limit < end - END_TOLERANCE_S:
            raise ClipTooShortError(
                f"{max(0.0, limit - start):.2f} s from {start:.2f} s, {self.duration:g} s needed")
        wave, _ = media.read_audio(row.path, start=start, end=end, sample_rate=self.sample_rate, channels=1)
        samples = round(self.duration * self.sample_rate)
        out = {"audio": torch.from_numpy(media.fit_length(wave[0], samples).copy())}
        if info.has_video:
            f8, f25 = (batch.frames for batch in media.decode_frame_sets(row.path, start, end, self.frame_specs))
            out["frames8"], out["frames25"] = torch.from_numpy(f8), torch.from_numpy(f25)
        return out


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, MfmjtError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class VAELatents(torch.nn.Module):
    """MMAudio's mel front-end and VAE encoder only (extraction needs no vocoder)."""

    def __init__(self, variant: str, vae_state_dict: dict[str, torch.Tensor], vae_config=None) -> None:
        from mfmjt_core.codec.mel import MEL_16K, MEL_44K, MelFrontend
        from mfmjt_core.codec.vae import VAE_16K, VAE_44K, MelVAE

        super().__init__()
        mel, vae = {"16k": (MEL_16K, VAE_16K), "44k": (MEL_44K, VAE_44K)}[variant]
        vae = vae_config or vae
        self.frontend = MelFrontend(mel)
        self.vae = MelVAE.from_state_dict(vae_state_dict, vae)
        self.sample_rate = mel.sample_rate
        self.samples_per_latent = mel.hop * vae.time_downsample
        self.latent_dim = vae.embed_dim

    @torch.no_grad()
    def encode_distribution(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from mfmjt_core.codec.audio_codec import pad_to_whole_latents

        mel = self.frontend(pad_to_whole_latents(wave, self.samples_per_latent))
        mean, std = self.vae.encode(mel.to(self.vae.data_mean.dtype))
        return mean.transpose(1, 2), std.transpose(1, 2)


@torch.no_grad()
def latent_distribution(codec, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, n) waveform -> latent (mean, std), each (B, N, C); std 0 for deterministic codecs."""
    if hasattr(codec, "encode_distribution"):
        return codec.encode_distribution(wave)
    mean = codec.encode(wave)
    return mean, torch.zeros_like(mean)


def fingerprint(path: str | os.PathLike) -> str:
    from mfmjt_core.pipeline.features import content_fingerprint

    return content_fingerprint(path)[:16]


def _embedded_model() -> Path:
    from mfmjt_core.errors import MissingWeightsError
    from mfmjt_core.pipeline.generator import EMBEDDED_MODEL

    if not EMBEDDED_MODEL.exists():
        raise MissingWeightsError(
            f"--encoders small uses the embedded model's encoders, which is missing ({EMBEDDED_MODEL}); "
            "build it with `mfmjt train tiny-synth --install` or pass one of our model files")
    return EMBEDDED_MODEL


def _model_file(name: str) -> Path | None:
    if name == "small":
        return _embedded_model()
    path = Path(name).expanduser()
    return path if path.suffix == ".safetensors" or path.is_file() else None


def describe_sources(encoders: str, codec: str) -> dict:
    """A cheap identity of the encoders and codec (no weights loaded), for resume checks."""
    def one(name: str) -> dict:
        if name.startswith("mmaudio"):
            return {"kind": "mmaudio", "name": name}
        path = _model_file(name)
        if path is None:
            from mfmjt_core.errors import UnknownModelError

            raise UnknownModelError(f"unknown encoders/codec {name!r}: small, mmaudio[:BUNDLE], "
                                    "mmaudio-16k, mmaudio-44k or a model file")
        if not path.is_file():
            from mfmjt_core.errors import MissingWeightsError

            raise MissingWeightsError(f"no model file at {path}")
        return {"kind": "model_file", "name": path.name, "fingerprint": fingerprint(path)}

    return {"encoders": one(encoders), "codec": one(encoders if codec == "auto" else codec)}


class FeatureExtractor:
    """Encoders + latent codec for one duration; `model_spec` is set when the encoders come from
    one of our model files (their weights travel with the features, for export)."""

    def __init__(self, encoders: EncoderSet, codec, *, duration: float, feature_dtype: torch.dtype,
                 model=None) -> None:
        self.encoders = encoders.eval()
        self.codec = codec
        self.duration = duration
        self.feature_dtype = feature_dtype
        self.model = model
        self.num_latents = -(-round(duration * codec.sample_rate) // codec.samples_per_latent)

    @property
    def device(self) -> torch.device:
        return self.encoders.device

    def decoder(self) -> RowDecoder:
        from mfmjt_core.pipeline.frames import frame_specs

        return RowDecoder(self.duration, self.codec.sample_rate, tuple(frame_specs(self.encoders)))

    def shapes(self) -> dict:
        s = self.encoders.feature_shapes(self.duration)
        return {"latent_shape": [self.num_latents, self.codec.latent_dim], "clip_shape": list(s.clip),
                "sync_shape": list(s.sync), "text_shape": list(s.text), "duration": self.duration,
                "sample_rate": self.codec.sample_rate, "samples_per_latent": self.codec.samples_per_latent,
                "feature_dtype": str(self.feature_dtype).split(".")[-1]}

    @torch.inference_mode()
    def latents(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = latent_distribution(self.codec, audio.to(self.device))
        return mean[:, : self.num_latents].float().cpu(), std[:, : self.num_latents].float().cpu()

    @torch.inference_mode()
    def video(self, frames8: torch.Tensor, frames25: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        clip_f, sync_f = self.encoders.encode_video(frames8, frames25)
        return clip_f.to(self.feature_dtype).cpu(), sync_f.to(self.feature_dtype).cpu()

    @torch.inference_mode()
    def text(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        out = {"text_f": self.encoders.encode_text(list(captions)).to(self.feature_dtype).cpu()}
        if hasattr(self.encoders, "tokenize"):
            out["text_tokens"] = self.encoders.tokenize(list(captions)).to(torch.int32)
        return out

    def empty_text(self) -> torch.Tensor:
        return self.text([""])["text_f"][0].float()

    def encoder_file(self) -> tuple[dict[str, torch.Tensor], dict] | None:
        """(tensors, config) of the trainable encoders, to store beside the features."""
        if self.model is None:
            return None
        spec = self.model.spec.to_dict()
        tensors = {f"encoders.{k}": v for k, v in self.model.encoders.state_dict().items()}
        return tensors, {k: spec[k] for k in ("name", "encoders", "codec", "window_s")}


def build_extractor(encoders: str, codec: str = "auto", *, duration: float = 8.0,
                    device: str | torch.device = "cpu", feature_dtype: torch.dtype = torch.float16
                    ) -> FeatureExtractor:
    """Load the encoders ("small": the embedded model's; "mmaudio[:BUNDLE]"; a model file) and
    the codec ("auto": the encoders' own; "mmaudio-16k" / "mmaudio-44k"; a model file)."""
    from mfmjt_core.model.published import bundle_shapes, codec_bundle

    model = None
    if encoders.startswith("mmaudio"):
        from mfmjt_core.encoders.mmaudio import MMAudioEncoders

        bundle = encoders.partition(":")[2] or "mmaudio-small-16k"
        shapes = bundle_shapes(bundle)
        extra = {k: v for k, v in (("clip_cfg", shapes.clip), ("clip_image_size", shapes.clip_image_size),
                                   ("sync_cfg", shapes.sync)) if v is not None}
        enc = MMAudioEncoders.from_bundle(bundle, device=device, **extra)
        auto_codec = "mmaudio-16k" if bundle.endswith("16k") else "mmaudio-44k"
    else:
        from mfmjt_core.model import AudioModel

        model = AudioModel.load(_model_file(encoders), device=device)
        enc, auto_codec = model.encoders, None
    codec = auto_codec if codec == "auto" else codec
    if codec is None:
        latent_codec = model.codec
    elif codec in ("mmaudio-16k", "mmaudio-44k"):
        from mfmjt_core.weights import DEFAULT_REGISTRY, load_checkpoint, require_artifact

        variant = codec.split("-")[1]
        path = require_artifact(DEFAULT_REGISTRY.artifact(f"vae_{variant}"), fetch_name=f"vae_{variant}")
        vae_config = bundle_shapes(codec_bundle(encoders, codec)).vae
        latent_codec = VAELatents(variant, load_checkpoint(path), vae_config).to(device).eval()
    else:
        from mfmjt_core.model import AudioModel

        latent_codec = AudioModel.load(_model_file(codec), device=device).codec
    return FeatureExtractor(enc, latent_codec, duration=duration, feature_dtype=feature_dtype, model=model)


def digest(obj: object) -> str:
    import json

    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:24]
