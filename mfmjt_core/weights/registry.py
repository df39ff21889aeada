"""Every published file the project knows how to use, and the named bundles built from them.

Facts (URLs, md5 sums, approximate sizes) come from MMAudio's `download_utils.py` and
`docs/MODELS.md` (see research/method.md 3.7). Exact byte sizes are not published, so only the
approximate sizes from the model card are recorded (for display); integrity rests on the md5.
The Hugging Face hub weights (CLIP, BigVGAN-v2) are pinned to the SHA-256 the hub publishes for
them (a Git LFS file's "SHA256" on its blob page). BigVGAN-v2's config.json is a plain git file
with no published SHA-256: it is fetched over HTTPS and checked when loaded (its mel settings
must match the codec's), not pinned.

Nothing here touches the network or the disk. Tests build their own `Registry` pointing at a
loopback server instead of patching these globals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mfmjt_core.errors import UnknownModelError


@dataclass(frozen=True)
class License:
    """A licence a person must see (and for some, accept) before a file is fetched."""

    name: str
    url: str
    summary: str = ""
    needs_acceptance: bool = True


@dataclass(frozen=True)
class Artifact:
    """One downloadable file: where it comes from, how to check it, where it lives in the cache."""

    name: str
    url: str
    filename: str
    subdir: str  # folder inside the cache; keeps generic hub names (config.json) apart
    license: License
    description: str = ""
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None  # exact size in bytes when known (verified after download)
    approx_size: int | None = None  # published, rounded size in bytes (display only)
    hub_repo: str | None = None  # Hugging Face repo id, to find a copy already in the hub cache
    alternates: tuple[str, ...] = ()  # other file names accepted in place of `filename`

    @property
    def relpath(self) -> str:
        """Path of the file relative to the cache directory."""
        return f"{self.subdir}/{self.filename}"

    @property
    def display_size(self) -> int | None:
        return self.size if self.size is not None else self.approx_size


@dataclass(frozen=True)
class Bundle:
    """A named set of artefacts that together make a usable model.

    `roles` maps what the pipeline needs (network, vae, vocoder, ...) to artefact names, so code
    asks for "the vocoder of this bundle" instead of a file name.
    """

    name: str
    description: str
    roles: tuple[tuple[str, str], ...]
    network_variant: str | None = None
    sample_rate: int | None = None

    @property
    def artifact_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name in self.roles))

    def artifact_for(self, role: str) -> str:
        for r, name in self.roles:
            if r == role:
                return name
        raise KeyError(f"bundle {self.name!r} has no {role!r} component")


@dataclass(frozen=True)
class Registry:
    """A lookup of artefacts and bundles by name."""

    artifacts: Mapping[str, Artifact] = field(default_factory=dict)
    bundles: Mapping[str, Bundle] = field(default_factory=dict)

    @classmethod
    def of(cls, artifacts: Iterable[Artifact], bundles: Iterable[Bundle] = ()) -> Registry:
        """Build a registry, checking that every bundle names only known artefacts."""
        arts = {a.name: a for a in artifacts}
        buns = {b.name: b for b in bundles}
        for b in buns.values():
            unknown = [n for n in b.artifact_names if n not in arts]
            if unknown:
                raise ValueError(f"bundle {b.name!r} names unknown artefacts {unknown}")
        return cls(arts, buns)

    def artifact(self, name: str) -> Artifact:
        try:
            return self.artifacts[name]
        except KeyError:
            raise UnknownModelError(
                f"unknown artefact {name!r}; known: {', '.join(sorted(self.artifacts))}"
            ) from None

    def bundle(self, name: str) -> Bundle:
        try:
            return self.bundles[name]
        except KeyError:
            raise UnknownModelError(
                f"unknown model bundle {name!r}; known: {', '.join(sorted(self.bundles))}"
                " (`mfmjt models` lists them)"
            ) from None

    def bundle_artifacts(self, name: str) -> list[Artifact]:
        return [self.artifacts[n] for n in self.bundle(name).artifact_names]

    def resolve(self, name: str) -> list[Artifact]:
        """A bundle name gives its artefacts; an artefact name gives itself."""
        if name in self.bundles:
            return self.bundle_artifacts(name)
        if name in self.artifacts:
            return [self.artifacts[name]]
        raise UnknownModelError(
            f"unknown model bundle or artefact {name!r}; known bundles: "
            f"{', '.join(sorted(self.bundles))} (`mfmjt models` lists them)"
        )


CC_BY_NC_4_0 = License(
    "CC-BY-NC-4.0",
    "https://creativecommons.org/licenses/by-nc/4.0/",
    "MMAudio's checkpoints: attribution required, non-commercial use only. The authors do not"
    " guarantee the models are suitable for commercial use (training data has its own terms).",
)
APPLE_SAMPLE_CODE = License(
    "apple-sample-code-license",
    "https://huggingface.co/apple/DFN5B-CLIP-ViT-H-14-384/blob/main/LICENSE",
    "Apple's DFN5B CLIP weights, under the Apple Sample Code License.",
)
MIT = License("MIT", "https://opensource.org/license/mit", "NVIDIA BigVGAN-v2.", False)

_HF_MMAUDIO = "https://huggingface.co/hkchengrex/MMAudio/resolve/main/weights"
_GH_MMAUDIO = "https://github.com/hkchengrex/MMAudio/releases/download/v0.1"
_CLIP_REPO = "apple/DFN5B-CLIP-ViT-H-14-384"
_BIGVGAN_REPO = "nvidia/bigvgan_v2_44khz_128band_512x"
_MB = 1_000_000


def _network(variant: str, md5: str, approx_mb: int) -> Artifact:
    filename = f"mmaudio_{variant}.pth"
    return Artifact(
        name=f"mmaudio_{variant}",
        url=f"{_HF_MMAUDIO}/{filename}",
        filename=filename,
        subdir="mmaudio/weights",
        license=CC_BY_NC_4_0,
        description=f"MMAudio flow network, {variant}",
        md5=md5,
        approx_size=approx_mb * _MB,
    )


def _ext(
    name: str, filename: str, md5: str | None, approx_mb: int | None, description: str
) -> Artifact:
    return Artifact(
        name=name,
        url=f"{_GH_MMAUDIO}/{filename}",
        filename=filename,
        subdir="mmaudio/ext_weights",
        license=CC_BY_NC_4_0,
        description=description,
        md5=md5,
        approx_size=None if approx_mb is None else approx_mb * _MB,
    )


def _hub(
    name: str, repo: str, filename: str, lic: License, approx: int | None, description: str,
    alternates: tuple[str, ...] = (), sha256: str | None = None,
) -> Artifact:
    return Artifact(
        name=name,
        url=f"https://huggingface.co/{repo}/resolve/main/{filename}",
        filename=filename,
        subdir="hf/" + repo.replace("/", "--"),
        license=lic,
        description=description,
        approx_size=approx,
        hub_repo=repo,
        alternates=alternates,
        sha256=sha256,
    )


ARTIFACTS: tuple[Artifact, ...] = (
    _network("small_16k", "af93cde404179f58e3919ac085b8033b", 601),
    _network("small_44k", "babd74c884783d13701ea2820a5f5b6d", 601),
    _network("medium_44k", "5a56b6665e45a1e65ada534defa903d0", 2400),
    _network("large_44k", "fed96c325a6785b85ce75ae1aafd2673", 3900),
    _network("large_44k_v2", "01ad4464f049b2d7efdaa4c1a59b8dfe", 3900),
    _ext("vae_16k", "v1-16.pth", "69f56803f59a549a1a507c93859fd4d7", 655, "MMAudio VAE, 16 kHz"),
    _ext("vae_44k", "v1-44.pth", "fab020275fa44c6589820ce025191600", 1200, "MMAudio VAE, 44.1 kHz"),
    _ext(
        "bigvgan_16k", "best_netG.pt", "eeaf372a38a9c31c362120aba2dde292", 429,
        "BigVGAN vocoder, 16 kHz (from Make-An-Audio 2; `generator` key)",
    ),
    _ext(
        "synchformer", "synchformer_state_dict.pth", "5b2f5594b0730f70e41e549b7c94390c", 907,
        "Synchformer (only vfeat_extractor.* is used)",
    ),
    _ext("empty_string", "empty_string.pth", None, None, "CLIP features of '' (training only)"),
    # open_clip's default hub file name; the hub-cache lookup also accepts the safetensors twin
    # (open_clip_model.safetensors), which open_clip prefers when a repo has both.
    # The hub serves this repo under its current name apple/DFN5B-CLIP-ViT-H-14-378 (the -384
    # name MMAudio uses redirects there; MMAudio issue #12); the file has one version, uploaded
    # in commit d915f9c, whose LFS SHA-256 the blob page publishes.
    _hub(
        "clip_dfn5b_h14_384", _CLIP_REPO, "open_clip_pytorch_model.bin", APPLE_SAMPLE_CODE,
        3_950 * _MB, "CLIP ViT-H/14 (DFN5B, 384 px), open_clip layout",
        alternates=("open_clip_model.safetensors",),
        sha256="c07a17b547d461c60a3cce5062b26bf8545b13de602c4c59d8490361eb716033",
    ),
    _hub(
        "bigvgan_v2_44k_config", _BIGVGAN_REPO, "config.json", MIT, 2_000,
        "BigVGAN-v2 44.1 kHz 128-band config",
    ),
    # The file on main since v2.4 (commit 68eac6e, the 5M-step generator that MMAudio loads from
    # main); the July 2024 original (3M steps, b4262607...) now lives on as
    # bigvgan_generator_3msteps.pt, so an older hub-cache copy fails the check and is re-fetched.
    _hub(
        "bigvgan_v2_44k_generator", _BIGVGAN_REPO, "bigvgan_generator.pt", MIT, 489 * _MB,
        "BigVGAN-v2 44.1 kHz 128-band generator",
        sha256="d9fe7ec6bd0b44ed9d66973d5012d8181c1570b01e5c72df51973e241dccd357",
    ),
)

_ENCODERS = (("synchformer", "synchformer"), ("clip", "clip_dfn5b_h14_384"))
_CODEC_16K = (("vae", "vae_16k"), ("vocoder", "bigvgan_16k"))
_CODEC_44K = (
    ("vae", "vae_44k"),
    ("vocoder", "bigvgan_v2_44k_generator"),
    ("vocoder_config", "bigvgan_v2_44k_config"),
)


def _bundle(variant: str, label: str, codec: tuple, sample_rate: int) -> Bundle:
    return Bundle(
        name="mmaudio-" + variant.replace("_", "-"),
        description=f"MMAudio {label}: network, VAE, vocoder, Synchformer, CLIP",
        roles=(("network", f"mmaudio_{variant}"), *codec, *_ENCODERS),
        network_variant=variant,
        sample_rate=sample_rate,
    )


BUNDLES: tuple[Bundle, ...] = (
    _bundle("small_16k", "small, 16 kHz", _CODEC_16K, 16_000),
    _bundle("small_44k", "small, 44.1 kHz", _CODEC_44K, 44_100),
    _bundle("medium_44k", "medium, 44.1 kHz", _CODEC_44K, 44_100),
    _bundle("large_44k", "large, 44.1 kHz", _CODEC_44K, 44_100),
    _bundle("large_44k_v2", "large v2, 44.1 kHz (recommended upstream)", _CODEC_44K, 44_100),
)

DEFAULT_REGISTRY = Registry.of(ARTIFACTS, BUNDLES)
