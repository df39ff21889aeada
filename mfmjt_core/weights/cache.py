"""Where weights live on disk, whether they are there, and the error that says how to get them.

The cache directory is `platformdirs.user_cache_dir("mfmjt")`, or `$MFMJT_CACHE` when set, or
an explicit `cache_dir` argument (highest precedence). Files sit at `<cache>/<artifact.relpath>`;
the MMAudio files keep upstream's `weights/` and `ext_weights/` folders, so an existing MMAudio
checkout's files can simply be copied in. Hub artefacts (CLIP, BigVGAN-v2) are also found in the
Hugging Face hub cache when open_clip or huggingface_hub already put them there. Nothing here
downloads anything.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mfmjt_core.errors import MissingWeightsError, WeightsError
from mfmjt_core.weights.registry import DEFAULT_REGISTRY, Artifact, Registry

ENV_VAR = "MFMJT_CACHE"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The weights cache directory (not created here)."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mfmjt"))


def path_of(artifact: Artifact, cache: str | os.PathLike | None = None) -> Path:
    """Where `artifact` is (or would be) stored in the cache."""
    return cache_dir(cache) / artifact.relpath


def is_present(
    artifact: Artifact,
    cache: str | os.PathLike | None = None,
    *,
    verify: bool = False,
    hub: bool = True,
) -> bool:
    """True when a usable file is there: right size when known, and checksum if `verify`.

    `hub=True` also counts a copy in the Hugging Face hub cache.
    """
    path = find(artifact, cache, hub=hub)
    if path is None:
        return False
    if not verify:
        return path.name != artifact.filename or _size_ok(artifact, path)
    try:
        verify_file(artifact, path)
    except WeightsError:
        return False
    return True


def _size_ok(artifact: Artifact, path: Path) -> bool:
    return artifact.size is None or path.stat().st_size == artifact.size


def hub_cached_path(artifact: Artifact, hub_cache: str | os.PathLike | None = None) -> Path | None:
    """A copy of a hub artefact already in the Hugging Face cache, looked up offline.

    `hub_cache` defaults to huggingface_hub's own setting (HF_HUB_CACHE / HF_HOME).
    """
    if artifact.hub_repo is None:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # optional: open_clip normally brings it
        return None
    for name in (artifact.filename, *artifact.alternates):
        found = try_to_load_from_cache(
            artifact.hub_repo, name, cache_dir=None if hub_cache is None else str(hub_cache)
        )
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def find(
    artifact: Artifact, cache: str | os.PathLike | None = None, *, hub: bool = True
) -> Path | None:
    """The local file for `artifact`: our cache first (any accepted name), then the hub cache."""
    folder = path_of(artifact, cache).parent
    for name in (artifact.filename, *artifact.alternates):
        if (folder / name).is_file():
            return folder / name
    return hub_cached_path(artifact) if hub else None


def file_digest(path: str | os.PathLike, algorithm: str, chunk_size: int = 1 << 22) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def verify_file(artifact: Artifact, path: str | os.PathLike) -> None:
    """Raise WeightsError when the file's size or published checksum does not match."""
    path = Path(path)
    if path.name != artifact.filename:
        return  # an accepted alternate (e.g. safetensors twin): no published checksum for it
    size = path.stat().st_size
    if artifact.size is not None and size != artifact.size:
        raise WeightsError(f"{path}: {size} bytes, expected {artifact.size} (truncated or wrong)")
    for algorithm in ("sha256", "md5"):
        expected = getattr(artifact, algorithm)
        if expected is not None:
            actual = file_digest(path, algorithm)
            if actual != expected.lower():
                raise WeightsError(
                    f"{path}: {algorithm} {actual} does not match the published {expected}; "
                    "delete the file and fetch it again"
                )


def fetch_command(name: str, cache: str | os.PathLike | None = None) -> str:
    """The exact command line that fetches `name` into the given cache."""
    extra = f" --cache-dir {cache_dir(cache)}" if cache is not None else ""
    return f"mfmjt fetch {name}{extra}"


def missing_weights_error(
    name: str, missing: list[Artifact], cache: str | os.PathLike | None = None
) -> MissingWeightsError:
    """The error for missing files: names the fetch command and where to copy files by hand."""
    root = cache_dir(cache)
    lines = "\n".join(f"  {root / a.relpath}  ({a.url})" for a in missing)
    return MissingWeightsError(
        f"weights for {name!r} are not in the cache {root}: "
        f"{', '.join(a.filename for a in missing)}.\n"
        f"Run `{fetch_command(name, cache)}` (it shows the licence and asks to accept it), "
        f"or copy the files to:\n{lines}"
    )


def resolve_bundle(
    name: str, cache: str | os.PathLike | None = None, *, registry: Registry = DEFAULT_REGISTRY,
    roles: tuple[str, ...] | None = None,
) -> dict[str, Path]:
    """Local paths of a bundle's files by role (only `roles` when given, e.g. the encoders of a
    model trained on the bundle's features); MissingWeightsError naming the fix if absent."""
    bundle = registry.bundle(name)
    paths: dict[str, Path] = {}
    missing: list[Artifact] = []
    for role, art_name in bundle.roles:
        if roles is not None and role not in roles:
            continue
        artifact = registry.artifacts[art_name]
        found = find(artifact, cache)
        if found is None:
            if artifact not in missing:
                missing.append(artifact)
        else:
            paths[role] = found
    if missing:
        raise missing_weights_error(name, missing, cache)
    return paths


def require_artifact(
    artifact: Artifact, cache: str | os.PathLike | None = None, *, fetch_name: str | None = None
) -> Path:
    """The local path of one artefact, or MissingWeightsError naming `mfmjt fetch`."""
    found = find(artifact, cache)
    if found is None:
        raise missing_weights_error(fetch_name or artifact.name, [artifact], cache)
    return found
