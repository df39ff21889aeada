"""Build the installable extension: `python plugins/blender_vse/build.py` -> dist/mfmjt_vse-<version>-*.zip

Blender's own `blender --command extension build` needs a Blender binary (the pip `bpy` module
has no command line), so this does the same job from the manifest: it copies the files its
`[build] paths_exclude_pattern` keeps, vendors the daemon's client from `daemon/` with the
request schema `mfmjt_schema/` inside it, and fetches
the pyzmq wheels listed in `wheels = [...]` with `pip download` (cached in dist/wheels).

It writes one zip per Python line (see VARIANTS): blender4.2-5.0 (Python 3.11, cp311 wheels)
and blender5.1+ (Python 3.13, cp312-abi3 wheels).

Other uses:
  --stage DIR    write the unpacked extension folder instead of a zip (tests load it from there)
  --vendor       copy the client into this source folder's vendor/ (for a symlinked dev install)
  --wheels DIR   take the wheels from DIR instead of downloading them
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLIENT_FILES = ("client.py", "protocol.py", "events.py", "wav.py", "job_state.py")
VENDORED = PurePosixPath("vendor/mfmjt_client")
VENDOR_INIT = '''"""The MF-MJT daemon's reference client, copied from the repository's daemon/ by build.py."""
'''




@dataclass(frozen=True)
class Variant:
    """One package: the wheels of one ABI tag and the Blender versions whose Python runs them."""

    name: str
    abi: str  # the wheels' ABI tag
    blender_min: str | None = None
    blender_max: str | None = None  # first version NOT supported, as the manifest means it


# Blender derives an extension's Python versions from its wheel tags and, when "3.11" is listed,
# drops the bare "3" an abi3 wheel stands for: one zip with cp311 and cp312-abi3 wheels is refused
# by 5.1 ("This Python version (3.13) isn't compatible with (3.11)", measured on bpy 5.1.2).
VARIANTS = (
    Variant("blender4.2-5.0", "cp311", blender_max="5.1.0"),
    Variant("blender5.1+", "abi3", blender_min="5.1.0"),
)


def read_manifest(folder: Path = HERE) -> dict:
    """The parsed blender_manifest.toml."""
    with open(folder / "blender_manifest.toml", "rb") as f:
        return tomllib.load(f)


def excluded(path: PurePosixPath, is_dir: bool, patterns: list[str]) -> bool:
    """Gitignore-style matching as Blender's builder does it: a leading "/" anchors the pattern
    at the extension root, a trailing "/" matches folders only; otherwise any path part matches."""
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        pat = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if pat.startswith("/"):
            if fnmatch.fnmatch(path.as_posix(), pat[1:]):
                return True
        elif fnmatch.fnmatch(path.name, pat):
            return True
    return False


def source_files(folder: Path, patterns: list[str]) -> list[PurePosixPath]:
    """Files of the extension source that go into the package (the vendored client is written
    fresh by `vendor_client`, so any copy lying in the source folder is skipped)."""
    found = []

    def walk(directory: Path, rel: PurePosixPath) -> None:
        for entry in sorted(directory.iterdir()):
            sub = rel / entry.name
            if sub == VENDORED or excluded(sub, entry.is_dir(), patterns):
                continue
            if entry.is_dir():
                walk(entry, sub)
            elif entry.is_file():
                found.append(sub)

    walk(folder, PurePosixPath())
    return found


def vendor_client(dest: Path, daemon_dir: Path = REPO / "daemon", schema_dir: Path = REPO / "mfmjt_schema") -> None:
    """Copy the daemon's client (stdlib + pyzmq, relative imports) into `dest` as a package, with
    the request schema (stdlib only) as its subpackage `mfmjt_schema`, which protocol.py and the
    add-on's properties import from there."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in CLIENT_FILES:
        shutil.copy2(daemon_dir / name, dest / name)
    (dest / "__init__.py").write_text(VENDOR_INIT)
    schema = dest / "mfmjt_schema"
    if schema.exists():
        shutil.rmtree(schema)
    schema.mkdir()
    for source in sorted(schema_dir.glob("*.py")):
        shutil.copy2(source, schema / source.name)


def pip_download_args(filename: str) -> list[str]:
    """`pip download` arguments that fetch exactly this wheel file (name-version-py-abi-platform)."""
    dist, version, python, abi, platform = filename[: -len(".whl")].split("-")
    py_version = f"{python[2]}.{python[3:]}"  # cp311 -> 3.11
    args = [f"{dist}=={version}", "--no-deps", "--only-binary=:all:", "--implementation", python[:2],
            "--python-version", py_version, "--abi", abi]
    for tag in platform.split("."):
        args += ["--platform", tag]
    return args


def fetch_wheels(names: list[str], cache: Path) -> list[Path]:
    """The listed wheel files, downloaded into `cache` unless already there."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        target = cache / name
        if not target.exists():
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "-d", str(cache), *pip_download_args(name)]
            subprocess.run(cmd, check=True)
        if not target.exists():
            raise SystemExit(f"pip did not produce {name}; the manifest's wheel list and PyPI disagree")
        paths.append(target)
    return paths


def wheel_names(manifest: dict) -> list[str]:
    return [PurePosixPath(w).name for w in manifest.get("wheels", [])]


def variant_manifest(text: str, variant: Variant) -> str:
    """The manifest text for one variant: only its wheels, and its Blender version bounds."""
    names = [n for n in wheel_names(tomllib.loads(text)) if n.split("-")[3] == variant.abi]
    listing = "wheels = [\n" + "".join(f'  "./wheels/{n}",\n' for n in names) + "]"
    text = re.sub(r"^wheels\s*=\s*\[.*?\]", lambda _: listing, text, count=1, flags=re.MULTILINE | re.DOTALL)
    if variant.blender_min:
        text = re.sub(r'^blender_version_min\s*=.*$', f'blender_version_min = "{variant.blender_min}"', text,
                      count=1, flags=re.MULTILINE)
    if variant.blender_max:
        text = re.sub(r'^(blender_version_min\s*=.*)$', rf'\1\nblender_version_max = "{variant.blender_max}"',
                      text, count=1, flags=re.MULTILINE)
    return text


def variant_for(blender_version: tuple[int, ...]) -> Variant:
    """The variant a Blender version installs."""
    def as_tuple(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    return next(v for v in VARIANTS if (v.blender_min is None or blender_version >= as_tuple(v.blender_min))
                and (v.blender_max is None or blender_version < as_tuple(v.blender_max)))


def stage(dest: Path, wheels: list[Path] | None = None, folder: Path = HERE, variant: Variant | None = None) -> Path:
    """Write the unpacked extension to `dest` (replaced if present): sources, vendored client
    and, when given, the wheels (for a variant: its manifest and only its wheels). Returns `dest`."""
    manifest = read_manifest(folder)
    patterns = manifest.get("build", {}).get("paths_exclude_pattern", [])
    if dest.exists():
        shutil.rmtree(dest)
    for rel in source_files(folder, patterns):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / rel, dest / rel)
    vendor_client(dest / VENDORED)
    if variant is not None:
        text = variant_manifest((folder / "blender_manifest.toml").read_text(), variant)
        (dest / "blender_manifest.toml").write_text(text)
        keep = set(wheel_names(tomllib.loads(text)))
        wheels = [w for w in wheels or () if w.name in keep]
    for wheel in wheels or ():
        (dest / "wheels").mkdir(exist_ok=True)
        shutil.copy2(wheel, dest / "wheels" / wheel.name)
    return dest


def build_zips(out_dir: Path, wheels: list[Path], folder: Path = HERE) -> list[Path]:
    """One installable zip per variant (manifest at its root, as Blender's builder lays it out)."""
    manifest = read_manifest(folder)
    missing = set(wheel_names(manifest)) - {w.name for w in wheels}
    if missing:
        raise SystemExit(f"wheels listed in the manifest but not given: {sorted(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_zip(out_dir, wheels, folder, manifest, v) for v in VARIANTS]


def _zip(out_dir: Path, wheels: list[Path], folder: Path, manifest: dict, variant: Variant) -> Path:
    target = out_dir / f"{manifest['id']}-{manifest['version']}-{variant.name}.zip"
    staging = out_dir / f".stage-{manifest['id']}"
    stage(staging, wheels, folder, variant)
    try:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                # wheels are zips already: storing them saves time and nothing else
                kind = zipfile.ZIP_STORED if path.suffix == ".whl" else zipfile.ZIP_DEFLATED
                zf.write(path, path.relative_to(staging).as_posix(), compress_type=kind)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--wheels", type=Path, help="folder holding the manifest's wheels (no download)")
    parser.add_argument("--stage", type=Path, metavar="DIR", help="write the unpacked extension to DIR")
    parser.add_argument("--vendor", action="store_true", help="vendor the client into this source folder")
    args = parser.parse_args(argv)
    if args.vendor:
        vendor_client(HERE / VENDORED)
        print(f"vendored the client into {HERE / VENDORED}")
        return 0
    names = wheel_names(read_manifest())
    if args.stage is not None:
        wheels = [args.wheels / n for n in names] if args.wheels else None
        print(f"staged {stage(args.stage, wheels)}")
        return 0
    wheels = [args.wheels / n for n in names] if args.wheels else fetch_wheels(names, args.out / "wheels")
    for target in build_zips(args.out, wheels):
        print(f"built {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
