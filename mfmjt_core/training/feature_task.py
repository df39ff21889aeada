"""`FeatureTask`: train an MM-DiT of any variant on extracted features with the one training loop.

Rows come from one or more feature folders (e.g. VGGSound video-text and AudioCaps audio-text)
mixed by weight and shuffled per epoch; a global row index maps to a folder row by a
permutation seeded by (seed, epoch), so any process count reads the same rows. As in MMAudio's
training the latent is sampled as mean + std * noise (noise from a per-row generator seeded by
(seed, row, stream 1); the loop's draws use stream 0). Video conditions (frame and sync
features together) and text are dropped per row with the network's learned empty features,
which also stand in for what a row lacks (audio-text rows have no video). The objective is flow
matching or MeanFlow with optional folded CFG (`ObjectiveConfig`). Starting points: scratch,
one of our model files, or a published MMAudio network checkpoint (h_embed starts at zero).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from mfmjt_core.errors import MfmjtError
from mfmjt_core.network import OWN_PREFIXES, STALE_KEYS, NetworkConfig, SequenceConfig, get_config
from mfmjt_core.network.adapter import AverageVelocity
from mfmjt_core.network.mmdit import MMDiT
from mfmjt_core.training.draws import Draws, row_seed
from mfmjt_core.training.features_store import ENCODERS, FeatureSet
from mfmjt_core.training.task_loss import drop_conditions, objective_loss
from mfmjt_core.training.train_config import ObjectiveConfig

LATENT_NOISE_STREAM = 1
SHUFFLE_STREAM = 2


class FeatureTaskError(MfmjtError):
    """Features and network do not fit together (dimensions, lengths, variants)."""

    exit_code = 2
    code = "bad_request"


class FeatureMix:
    """Global row index -> (folder, row): folders repeated by weight, shuffled per epoch."""

    def __init__(self, sets: Sequence[FeatureSet], weights: Sequence[float] | None = None, *,
                 seed: int = 0) -> None:
        weights = list(weights) if weights is not None else [1.0] * len(sets)
        if len(weights) != len(sets) or not sets or min(weights) <= 0:
            raise FeatureTaskError("need one positive weight per feature folder")
        self.sets, self.seed = list(sets), seed
        self.sizes = [len(s) for s in sets]
        self.counts = [max(1, round(n * w)) for n, w in zip(self.sizes, weights)]
        self.starts = [sum(self.counts[:j]) for j in range(len(sets))]
        self.epoch_length = sum(self.counts)
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            g = torch.Generator().manual_seed(row_seed(self.seed, epoch, 0, SHUFFLE_STREAM))
            self._perms = {epoch: torch.randperm(self.epoch_length, generator=g)}
        return self._perms[epoch]

    def locate(self, index: int) -> tuple[int, int]:
        epoch, position = divmod(index, self.epoch_length)
        slot = int(self._perm(epoch)[position])
        j = bisect.bisect_right(self.starts, slot) - 1
        # a folder with weight < 1 shows a different part of itself each epoch
        return j, (slot - self.starts[j] + epoch * self.counts[j]) % self.sizes[j]


def check_compatible(sets: Sequence[FeatureSet]) -> dict:
    """The shared shapes of several feature folders (they must agree)."""
    keys = ("latent_shape", "clip_shape", "sync_shape", "text_shape", "duration", "sample_rate")
    first = {k: sets[0].index[k] for k in keys}
    for s in sets[1:]:
        other = {k: s.index[k] for k in keys}
        if other != first:
            raise FeatureTaskError(
                f"feature folders disagree: {sets[0].folder} {first} vs {s.folder} {other}")
    return first


def network_config_for(variant: str | NetworkConfig, shapes: dict) -> NetworkConfig:
    """A variant with the condition and latent widths and the sequence of the features (scratch)."""
    config = get_config(variant)
    spl = int(shapes.get("samples_per_latent", 512))
    sequence = SequenceConfig(duration=float(shapes["duration"]), sample_rate=int(shapes["sample_rate"]),
                              hop_length=spl // 2, latent_downsample=2)
    return dataclasses.replace(
        config, latent_dim=shapes["latent_shape"][1], clip_dim=shapes["clip_shape"][1],
        sync_dim=shapes["sync_shape"][1], text_dim=shapes["text_shape"][1],
        text_seq_len=shapes["text_shape"][0], sequence=sequence, time_convention="meanflow")


def load_mmaudio_network(path: str | Path, variant: str | NetworkConfig) -> MMDiT:
    """A published MMAudio network checkpoint (weights only, published names) in `variant`;
    the MeanFlow interval embedding h_embed is not in the file and starts at exactly zero."""
    from mfmjt_core.weights import load_checkpoint, load_strict

    state = {k: v for k, v in load_checkpoint(path).items() if k not in STALE_KEYS}
    net = MMDiT(get_config(variant), generator=torch.Generator().manual_seed(0))
    load_strict(net, state, ignore_prefixes=OWN_PREFIXES, what=f"MMAudio network {path}")
    return net


def load_network_file(path: str | Path) -> MMDiT:
    """The network of one of our model files (keys `net.*`)."""
    from mfmjt_core.model.file import read_model
    from mfmjt_core.weights import load_strict

    tensors, config = read_model(path)
    net = MMDiT(NetworkConfig.from_dict(config["network"]), generator=torch.Generator().manual_seed(0))
    state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    load_strict(net, state, what=f"network of {path}")
    return net


def initial_network(init: str, variant: str | NetworkConfig | None, shapes: dict, *, seed: int = 0) -> MMDiT:
    """scratch | one of our model files | an MMAudio checkpoint (.pth) | an MMAudio bundle name."""
    if init == "scratch":
        if variant is None:
            raise FeatureTaskError("training from scratch needs a network variant")
        return MMDiT(network_config_for(variant, shapes), generator=torch.Generator().manual_seed(seed))
    if init.startswith("mmaudio-"):
        from mfmjt_core.model.published import bundle_shapes
        from mfmjt_core.weights import DEFAULT_REGISTRY, resolve_bundle

        config = get_config(variant) if variant else (bundle_shapes(init).network
                                                      or get_config(DEFAULT_REGISTRY.bundle(init).network_variant))
        return load_mmaudio_network(resolve_bundle(init, roles=("network",))["network"],
                                    at_duration(config, shapes))
    path = Path(init).expanduser()
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        from mfmjt_core.model.file import FORMAT

        with safe_open(str(path), framework="pt") as f:
            ours = (f.metadata() or {}).get("format") == FORMAT
        if ours:
            return load_network_file(path)
    if variant is None:
        raise FeatureTaskError(f"{init} is an MMAudio network checkpoint: name its variant (e.g. small_16k)")
    return load_mmaudio_network(path, at_duration(get_config(variant), shapes))


def at_duration(config: NetworkConfig, shapes: dict) -> NetworkConfig:
    """A published network for features of another duration (its sequence lengths follow; the
    weights do not depend on them)."""
    duration = float(shapes["duration"])
    if config.sequence.duration == duration:
        return config
    return dataclasses.replace(config, sequence=config.sequence.with_duration(duration))


def check_network(net: MMDiT, shapes: dict) -> None:
    c = net.config
    want = {"latent_dim": shapes["latent_shape"][1], "clip_dim": shapes["clip_shape"][1],
            "sync_dim": shapes["sync_shape"][1], "text_dim": shapes["text_shape"][1]}
    have = {k: getattr(c, k) for k in want}
    if have != want:
        raise FeatureTaskError(f"network {c.name} takes {have}, the features have {want}; extract with "
                               "the encoders and codec of this network, or train from scratch")


class FeatureTask:
    """`TrainTask` over extracted features for an `MMDiT`.

    `bypass_ddp` (tests only) computes the prediction with the unwrapped module, skipping DDP's
    gradient all-reduce: the mistake method.md 2.8 warns about, kept to show the test catches it.
    """

    def __init__(self, net: MMDiT, data: Sequence[FeatureSet], *, seed: int,
                 weights: Sequence[float] | None = None, bypass_ddp: bool = False,
                 name: str = "mfmjt-features") -> None:
        self.model = net
        self.sets = list(data)
        self.shapes = check_compatible(self.sets)
        check_network(net, self.shapes)
        self.mix = FeatureMix(self.sets, weights, seed=seed)
        self.seed, self.bypass_ddp, self.name = seed, bypass_ddp, name
        self.convention = net.config.time_convention
        self.objective_kind = "meanflow"
        self.objective: ObjectiveConfig | None = None  # the one trained with (set by `loss`)
        if not (self.sets[0].folder / ENCODERS).is_file():
            parts_of_features(self.sets[0])  # fail before training when the export could not name them

    @torch.no_grad()
    def init_statistics(self, rows: int = 512) -> None:
        """For a network from scratch: latent mean/std per channel from the data, and the
        encoders' empty-caption features as the (frozen) empty text."""
        data = self.sets[0]
        picks = torch.linspace(0, len(data) - 1, min(rows, len(data))).round().long().unique().tolist()
        latents = data.read(picks)["latent_mean"].flatten(0, 1)
        self.model.latent_mean.copy_(latents.mean(0).view(1, 1, -1))
        self.model.latent_std.copy_(latents.std(0).clamp(min=1e-3).view(1, 1, -1))
        self.model.empty_string_feat.copy_(data.empty_text())

    def latent_shape(self) -> Sequence[int]:
        return tuple(self.shapes["latent_shape"])

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """CPU tensors of the given global rows (runs in data-loader workers)."""
        rows = [self.sets[j].read([r]) for j, r in (self.mix.locate(i) for i in indices)]
        batch = {k: torch.cat([r[k] for r in rows]) for k in rows[0]}
        noise = torch.stack([
            torch.randn(*self.latent_shape(), generator=torch.Generator().manual_seed(
                row_seed(self.seed, 0, i, LATENT_NOISE_STREAM)))
            for i in indices])
        batch["latent"] = batch.pop("latent_mean") + batch.pop("latent_std") * noise
        return batch

    @staticmethod
    def missing(batch: dict, draws: Draws) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) masks of rows without video and without text: dropped by the draws or absent."""
        return draws.drop_video | ~batch["has_video"], draws.drop_text | ~batch["has_text"]

    def conditions(self, batch: dict, draws: Draws) -> dict[str, torch.Tensor]:
        return drop_conditions(self.model, batch, *self.missing(batch, draws))

    def loss(self, forward_model: nn.Module, jvp_model: nn.Module, batch: dict, draws: Draws,
             objective: ObjectiveConfig) -> tuple[torch.Tensor, dict[str, float]]:
        self.objective_kind, self.objective = objective.kind, objective
        cond = self.conditions(batch, draws)
        x = self.model.normalize(batch["latent"])
        u = AverageVelocity(jvp_model if self.bypass_ddp else forward_model, self.convention)
        no_video, no_text = self.missing(batch, draws)
        return objective_loss(objective, u, AverageVelocity(jvp_model, self.convention), self.model, x, cond, draws,
                              ~(no_video & no_text))

    def export(self, state_dict: dict[str, torch.Tensor], path: Path) -> None:
        """One of our model files: the network, and the trainable encoders the features came
        from when they are stored beside the features (then `AudioModel.load` reads it); a model
        on MMAudio features names the bundle whose encoders and codec it needs instead."""
        from mfmjt_core.model import ModelSpec
        from mfmjt_core.model.file import read_model, save_model

        tensors = {f"net.{k}": v for k, v in state_dict.items()}
        folder = self.sets[0].folder
        if (folder / ENCODERS).is_file():
            encoder_tensors, source = read_model(folder / ENCODERS)
            tensors.update(encoder_tensors)
            encoders, codec = source["encoders"], source["codec"]
        else:  # MMAudio's encoders and codec: published files, named here, not copied
            encoders, codec = parts_of_features(self.sets[0])
        objective = self.objective or ObjectiveConfig(kind=self.objective_kind)
        spec = ModelSpec(
            name=self.name, network=self.model.config, encoders=encoders, codec=codec,
            window_s=float(self.shapes["duration"]), objective=objective.kind,
            defaults=trained_defaults(objective),
            training={"features": [str(s.folder) for s in self.sets], "seed": self.seed,
                      **training_record(objective)},
        )
        save_model(path, tensors, spec.to_dict())


def parts_of_features(data: FeatureSet) -> tuple:
    """The typed encoders and codec specs of features extracted with MMAudio's encoders (the
    bundle named at extraction, with its sizes), or FeatureTaskError when nothing can name them."""
    from mfmjt_core.model.published import bundle_shapes, codec_bundle, encoders_bundle

    settings = data.index["settings"]
    enc, codec = settings["encoders"], settings["codec"]
    if enc.get("kind") != "mmaudio" or codec.get("kind") != "mmaudio":
        raise FeatureTaskError(f"{data.folder} has features of {enc.get('name')} with codec {codec.get('name')} "
                               f"but no {ENCODERS} beside them: a model trained on them could not be used; "
                               "extract with --encoders small, mmaudio[:BUNDLE] or a model file and the "
                               "encoders' own codec")
    bundle = encoders_bundle(enc["name"])
    decoder = codec_bundle(enc["name"], codec["name"])
    return bundle_shapes(bundle).encoders_spec(bundle), bundle_shapes(decoder).codec_spec(decoder)


def trained_defaults(objective: ObjectiveConfig):
    """Sampling defaults that follow from how a network was trained.

    MeanFlow: one step, unguided: guidance folded into the training target (omega) is in the
    network already, and sampling-time guidance on a one-step sample lowered onset F1 and raised
    the Fréchet distance in every evaluation so far (docs/eval/results.md, docs/training.md).
    Flow matching: MMAudio's 25 Euler steps with CFG 4.5. `mfmjt defaults FILE` changes them
    after an evaluation on the user's own clips (`mfmjt eval clips`).
    """
    from mfmjt_core.model import SamplingDefaults

    if objective.kind == "meanflow":
        return SamplingDefaults(steps=1, guidance=1.0, rescale="zero_star")
    return SamplingDefaults(steps=25, guidance=4.5, rescale="plain")


def training_record(objective: ObjectiveConfig) -> dict:
    folded = objective.omega if objective.kind == "meanflow" else None
    return {"objective": objective.kind, "folded_guidance": folded,
            "folded_guidance_kappa": objective.kappa if folded is not None else None,
            "guidance_input_range": list(objective.omega_range) if objective.omega_range else None,
            "defaults_from": "training (mfmjt_core.training.feature_task.trained_defaults)"}
