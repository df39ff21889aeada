"""`mfmjt models`: the known model bundles and files, their licences, and what is present."""

from __future__ import annotations

import argparse
import json

NAME = "models"
HELP = "list model bundles and weight files, with sizes, licences and what is in the cache"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", help="weights cache directory to inspect")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _size(n: int | None, exact: bool) -> str:
    if n is None:
        return "?"
    text = f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n} B"
    return text if exact else "~" + text


def collect(cache: str | None = None) -> dict:
    """Everything `mfmjt models` shows, as plain data."""
    from mfmjt_core.weights import DEFAULT_REGISTRY, cache_dir, find

    reg = DEFAULT_REGISTRY
    found = {name: find(a, cache) for name, a in reg.artifacts.items()}
    artifacts = [
        {
            "name": a.name, "file": a.relpath, "size": a.display_size,
            "size_exact": a.size is not None, "license": a.license.name,
            "present": found[a.name] is not None,
            "path": str(found[a.name]) if found[a.name] else None,
            "description": a.description,
        }
        for a in reg.artifacts.values()
    ]
    bundles = []
    for b in reg.bundles.values():
        arts = [reg.artifacts[n] for n in b.artifact_names]
        bundles.append({
            "name": b.name, "description": b.description, "sample_rate": b.sample_rate,
            "artifacts": list(b.artifact_names),
            "size": sum(a.display_size or 0 for a in arts),
            "licenses": sorted({a.license.name for a in arts}),
            "present": all(found[a.name] is not None for a in arts),
        })
    return {"cache_dir": str(cache_dir(cache)), "bundles": bundles, "artifacts": artifacts}


def run(args: argparse.Namespace) -> int:
    info = collect(args.cache_dir)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"cache: {info['cache_dir']}  (set MFMJT_CACHE or --cache-dir to change)\n")
    print("bundles (fetch with `mfmjt fetch NAME`):")
    for b in info["bundles"]:
        state = "present" if b["present"] else "missing"
        print(f"  {b['name']:<22} {_size(b['size'], False):>9}  {state:<8} "
              f"{', '.join(b['licenses'])}  {b['description']}")
    print("\nfiles:")
    for a in info["artifacts"]:
        state = "present" if a["present"] else "missing"
        print(f"  {a['name']:<26} {_size(a['size'], a['size_exact']):>9}  {state:<8} "
              f"{a['license']:<26} {a['file']}")
    return 0
