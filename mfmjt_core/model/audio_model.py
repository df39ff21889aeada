"""`AudioModel`: conditioning encoders + MM-DiT + audio codec, with its `ModelSpec`.

Only the encoders and the network are `nn.Module` children (they are what a model file
stores); the codec is kept beside them because its weights, if any, are published files.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mfmjt_core.codec.audio_codec import AudioCodec
from mfmjt_core.encoders.encoder_set import EncoderSet
from mfmjt_core.model.file import read_model, save_model
from mfmjt_core.model.spec import ModelSpec
from mfmjt_core.network.mmdit import MMDiT


def bundles_of(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """The published bundles a model's parts come from, with the roles each part needs."""
    needed: dict[str, tuple[str, ...]] = {}
    for part, roles in ((spec.encoders, ("clip", "synchformer")), (spec.codec, ("vae", "vocoder", "vocoder_config"))):
        bundle = getattr(part, "bundle", None)
        if bundle:
            needed[bundle] = needed.get(bundle, ()) + roles
    return needed


def check_bundles(spec: ModelSpec) -> None:
    """MissingWeightsError listing every missing file at once (and `mfmjt fetch BUNDLE`)."""
    from mfmjt_core.weights.cache import resolve_bundle

    for bundle, roles in bundles_of(spec).items():
        resolve_bundle(bundle, roles=roles)


class AudioModel(nn.Module):
    def __init__(self, spec: ModelSpec, encoders: EncoderSet, net: MMDiT, codec: AudioCodec) -> None:
        super().__init__()
        self.spec = spec
        self.encoders = encoders
        self.net = net
        self._codec = (codec,)  # a tuple keeps it out of the module tree and the state dict

    @property
    def codec(self) -> AudioCodec:
        return self._codec[0]

    @classmethod
    def create(cls, spec: ModelSpec, *, generator: torch.Generator | None = None) -> AudioModel:
        """Freshly initialised (from `generator` when given, for reproducible models)."""
        return cls(spec, spec.encoders.build(generator), MMDiT(spec.network, generator=generator),
                   spec.codec.build())

    def forward(self, latent, t, clip_f, sync_f, text_f, h=None, w=None) -> torch.Tensor:
        """The network's velocity; lets training wrap the whole model (encoders included) in DDP."""
        return self.net(latent, t, clip_f, sync_f, text_f, h=h, w=w)

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        if isinstance(self.codec, nn.Module):
            self.codec._apply(fn)
        return self

    # -- files --------------------------------------------------------------------------------

    @property
    def stored_prefixes(self) -> tuple[str, ...]:
        """What a model file holds: published encoders stay in the cache, only ours are stored."""
        return ("net.", "encoders.") if self.spec.encoders.stores_weights else ("net.",)

    def save(self, path: str | Path, *, dtype: torch.dtype | None = None) -> Path:
        tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
                   for k, v in self.state_dict().items() if k.startswith(self.stored_prefixes)}
        return save_model(path, tensors, self.spec.to_dict())

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> AudioModel:
        from mfmjt_core.errors import MissingWeightsError
        from mfmjt_core.weights.loading import load_strict

        tensors, config = read_model(path)
        spec = ModelSpec.from_dict(config)
        try:
            check_bundles(spec)
        except MissingWeightsError as exc:  # a model trained on a bundle's features needs its files
            raise MissingWeightsError(f"model file {path} uses the encoders and codec of "
                                      f"{' and '.join(bundles_of(spec))}; {exc}") from exc
        model = cls.create(spec)
        state = model.state_dict()
        tensors = {k: v.to(state[k].dtype) if k in state else v for k, v in tensors.items()}
        ignored = tuple(p for p in ("net.", "encoders.") if p not in model.stored_prefixes)
        load_strict(model, tensors, ignore_prefixes=ignored, what=f"model file {path}")
        return model.to(device).eval()
