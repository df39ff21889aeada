"""Published weights: the registry of known files and bundles, the cache, fetching, loading.

Importing this package does not import torch and never touches the network; downloads happen
only through `fetch_bundle` / `mfmjt fetch`.
"""

from mfmjt_core.weights.cache import (
    ENV_VAR,
    cache_dir,
    find,
    is_present,
    missing_weights_error,
    path_of,
    require_artifact,
    resolve_bundle,
    verify_file,
)
from mfmjt_core.weights.fetch import (
    DownloadError,
    LicenseNotAcceptedError,
    download,
    fetch_artifacts,
    fetch_bundle,
    license_notice,
)
from mfmjt_core.weights.loading import (
    StateDictMismatchError,
    check_state_dict,
    load_checkpoint,
    load_strict,
    select_prefix,
)
from mfmjt_core.weights.registry import (
    DEFAULT_REGISTRY,
    Artifact,
    Bundle,
    License,
    Registry,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "ENV_VAR",
    "Artifact",
    "Bundle",
    "DownloadError",
    "License",
    "LicenseNotAcceptedError",
    "Registry",
    "StateDictMismatchError",
    "cache_dir",
    "check_state_dict",
    "download",
    "fetch_artifacts",
    "fetch_bundle",
    "find",
    "is_present",
    "license_notice",
    "load_checkpoint",
    "load_strict",
    "missing_weights_error",
    "path_of",
    "require_artifact",
    "resolve_bundle",
    "select_prefix",
    "verify_file",
]
