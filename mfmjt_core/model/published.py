"""Published MMAudio bundles as `AudioModel`s, and their conversion into MeanFlow starting points.

A bundle's files (fetched by `mfmjt fetch`) load without conversion scripts: the network with
its published names (our `h_embed.` interval embedding stays at its zero init, so the model is
exactly MMAudio's flow-matching model), the VAE and vocoder in their stored forms, CLIP and
Synchformer. Such a model samples like MMAudio (25 Euler steps, CFG 4.5). `save_meanflow_start`
writes the network as one of our model files, the starting point of a MeanFlow fine-tune; its
encoders and codec still come from the bundle in the cache.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from mfmjt_core.codec.bigvgan import BigVGANConfig
from mfmjt_core.codec.vae import VAEConfig
from mfmjt_core.encoders.synchformer import SynchformerConfig
from mfmjt_core.errors import WeightsError
from mfmjt_core.model.audio_model import AudioModel
from mfmjt_core.model.parts import BundleCodecSpec, BundleEncodersSpec, config_from_dict, config_to_dict, json_ready
from mfmjt_core.model.sampling_defaults import SamplingDefaults
from mfmjt_core.model.spec import ModelSpec
from mfmjt_core.network import OWN_PREFIXES, STALE_KEYS, NetworkConfig, get_config
from mfmjt_core.network.mmdit import MMDiT
from mfmjt_core.weights.cache import resolve_bundle
from mfmjt_core.weights.loading import load_checkpoint, load_strict
from mfmjt_core.weights.registry import DEFAULT_REGISTRY, Registry

MMAUDIO_DEFAULTS = SamplingDefaults(steps=25, guidance=4.5, rescale="plain")  # MMAudio's demo
SHAPES_ENV = "MFMJT_BUNDLE_SHAPES"


@dataclass(frozen=True)
class PublishedShapes:
    """Architecture overrides, for tests on tiny synthetic bundles (None: the published ones)."""

    network: NetworkConfig | None = None
    vae: object | None = None  # codec.vae.VAEConfig
    vocoder: object | None = None  # codec.bigvgan.BigVGANConfig or a config.json dict
    clip: Mapping | None = None  # open_clip model config
    clip_image_size: int | None = None
    sync: object | None = None  # encoders.synchformer.SynchformerConfig

    def to_dict(self) -> dict:
        data: dict = {}
        if self.network is not None:
            data["network"] = self.network.to_dict()
        for name in ("vae", "vocoder", "sync"):
            value = getattr(self, name)
            if value is not None:
                data[name] = config_to_dict(value) if dataclasses.is_dataclass(value) else json_ready(value)
        if self.clip is not None:
            data["clip"] = json_ready(self.clip)
        if self.clip_image_size is not None:
            data["clip_image_size"] = self.clip_image_size
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> PublishedShapes:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise WeightsError(f"unknown bundle shape entries {sorted(unknown)}")
        get = data.get
        return cls(
            network=NetworkConfig.from_dict(get("network")) if get("network") else None,
            vae=config_from_dict(VAEConfig, get("vae")) if get("vae") else None,
            vocoder=BigVGANConfig.from_dict(get("vocoder")) if get("vocoder") else None,
            clip=get("clip"), clip_image_size=get("clip_image_size"),
            sync=config_from_dict(SynchformerConfig, get("sync")) if get("sync") else None,
        )

    def encoders_spec(self, bundle: str) -> BundleEncodersSpec:
        """How a model file names this bundle's encoders (overrides recorded, if any)."""
        return BundleEncodersSpec(bundle, clip=self.clip, clip_image_size=self.clip_image_size, sync=self.sync)

    def codec_spec(self, bundle: str) -> BundleCodecSpec:
        vocoder = BigVGANConfig.from_dict(self.vocoder) if isinstance(self.vocoder, Mapping) else self.vocoder
        return BundleCodecSpec(bundle, vae=self.vae, vocoder=vocoder)


def bundle_shapes(name: str) -> PublishedShapes:
    """The architecture of bundle `name`: the published one, unless `$MFMJT_BUNDLE_SHAPES` names
    a JSON file with an entry for it."""
    path = os.environ.get(SHAPES_ENV)
    if not path:
        return PublishedShapes()
    try:
        table = json.loads(Path(path).expanduser().read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"${SHAPES_ENV}={path}: cannot read the bundle shapes file: {exc}") from exc
    return PublishedShapes.from_dict(table[name]) if name in table else PublishedShapes()


def encoders_bundle(name: str) -> str:
    """The bundle of `mfmjt extract --encoders mmaudio[:BUNDLE]`."""
    return name.partition(":")[2] or "mmaudio-small-16k"


def codec_bundle(encoders: str, codec: str) -> str:
    """The bundle whose VAE and vocoder decode latents of `mfmjt extract --encoders E --codec C`:
    the encoders' bundle when its rate matches (all 44.1 kHz bundles share one codec), else the
    small bundle of the codec's rate."""
    if codec in ("auto", "mmaudio") or codec.startswith("mmaudio:"):
        return encoders_bundle(codec if codec.startswith("mmaudio:") else encoders)
    rate = codec.removeprefix("mmaudio-")
    if encoders.startswith("mmaudio") and encoders_bundle(encoders).endswith(rate):
        return encoders_bundle(encoders)
    return f"mmaudio-small-{rate}"


def load_network(path: str | os.PathLike, config: NetworkConfig) -> MMDiT:
    """A published network file (plain state dict) into our MM-DiT, strictly."""
    state = {k: v for k, v in load_checkpoint(path).items() if k not in STALE_KEYS}
    net = MMDiT(config)
    load_strict(net, state, ignore_prefixes=OWN_PREFIXES, what=f"network file {path}")
    return net


def load_published(
    name: str,
    *,
    cache: str | os.PathLike | None = None,
    registry: Registry = DEFAULT_REGISTRY,
    device: str | torch.device = "cpu",
    shapes: PublishedShapes | None = None,
) -> AudioModel:
    """A published bundle as a flow-matching `AudioModel` (shapes: `bundle_shapes(name)`)."""
    from mfmjt_core.codec.mmaudio_codec import MMAudioCodec
    from mfmjt_core.encoders.mmaudio import MMAudioEncoders

    shapes = bundle_shapes(name) if shapes is None else shapes
    bundle = registry.bundle(name)
    paths = resolve_bundle(name, cache, registry=registry)  # MissingWeightsError naming `mfmjt fetch`
    config = shapes.network or get_config(bundle.network_variant)
    net = load_network(paths["network"], config)
    codec = MMAudioCodec.from_bundle(name, cache=cache, registry=registry,
                                     vae_config=shapes.vae, vocoder_config=shapes.vocoder)
    extra = {"clip_cfg": shapes.clip} if shapes.clip is not None else {}
    if shapes.clip_image_size is not None:
        extra["clip_image_size"] = shapes.clip_image_size
    if shapes.sync is not None:
        extra["sync_cfg"] = shapes.sync
    encoders = MMAudioEncoders.from_files(paths["clip"], paths["synchformer"], device=device, fetch_hint=name, **extra)
    spec = ModelSpec(
        name=name, network=config, encoders=shapes.encoders_spec(name),
        codec=shapes.codec_spec(name), window_s=config.sequence.duration, objective="fm",
        defaults=MMAUDIO_DEFAULTS,
    )
    return AudioModel(spec, encoders, net, codec).to(device).eval()


def save_meanflow_start(model: AudioModel, path: str | os.PathLike) -> Path:
    """Our model file of a published network, marked for MeanFlow fine-tuning (h_embed at zero).

    Only the network is stored; encoders and codec are named by the bundle they come from.
    """
    spec = dataclasses.replace(model.spec, objective="meanflow", training={"init": f"published:{model.spec.name}"})
    return AudioModel(spec, model.encoders, model.net, model.codec).save(path)
