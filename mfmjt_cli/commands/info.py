"""`mfmjt info`: versions, compute devices, the weights cache and the known models."""

from __future__ import annotations

import argparse
import json

NAME = "info"
HELP = "show versions, devices, the cache directory and known models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _version(module_name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module_name)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect() -> dict:
    """Everything `mfmjt info` prints, as plain data."""
    import platform

    import torch

    from mfmjt_core import __version__
    from mfmjt_core.network import VARIANTS
    from mfmjt_core.weights.cache import cache_dir
    from mfmjt_core.weights.registry import DEFAULT_REGISTRY

    devices = [{"name": "cpu", "threads": torch.get_num_threads()}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append({"name": f"cuda:{i}", "model": p.name, "memory_gib": round(p.total_memory / 2**30, 1)})
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append({"name": "mps"})
    packages = [
        "torch",
        "torchaudio",
        "torchvision",
        "open_clip_torch",
        "av",
        "pyzmq",
        "soundfile",
        "safetensors",
        "numpy",
    ]
    return {
        "mfmjt": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in packages},
        "devices": devices,
        "cache_dir": str(cache_dir()),
        "network_variants": sorted(VARIANTS),
        "bundles": sorted(DEFAULT_REGISTRY.bundles),
    }


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"mfmjt {info['mfmjt']} on Python {info['python']} ({info['platform']})")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    for d in info["devices"]:
        print("device:   " + ", ".join(f"{k}={v}" for k, v in d.items()))
    print(f"cache:    {info['cache_dir']}  (set MFMJT_CACHE to move it)")
    print("networks: " + ", ".join(info["network_variants"]))
    print("bundles:  " + ", ".join(info["bundles"]) + "  (`mfmjt models` shows what is present)")
    return 0
