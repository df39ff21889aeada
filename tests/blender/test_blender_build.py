"""The extension package: manifest, zip layout, vendored client, wheel list. Needs no bpy (the
builder is plain Python), so these also run in the main venv."""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from blender_testing import PLUGIN, ROOT, load_build_module

build = load_build_module()
MANIFEST = build.read_manifest()


def test_manifest_declares_an_extension_for_42_and_newer():
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type", "blender_version_min",
                "license"):
        assert MANIFEST.get(key), key
    assert MANIFEST["type"] == "add-on" and MANIFEST["blender_version_min"] == "4.2.0"
    assert set(MANIFEST["permissions"]) == {"network", "files"}
    assert len(MANIFEST["tagline"]) <= 64 and not MANIFEST["tagline"].endswith(".")


def test_wheels_cover_three_systems_for_both_pythons():
    names = build.wheel_names(MANIFEST)
    assert all(w.startswith("./wheels/") for w in MANIFEST["wheels"])
    tags = {(n.split("-")[3], n.split("-")[4].split("_")[0]) for n in names}
    assert tags == {(abi, system) for abi in ("cp311", "abi3") for system in ("win", "macosx", "manylinux")}
    assert len({n.split("-")[1] for n in names}) == 1  # one pyzmq version


def test_pip_download_args_fetch_exactly_the_listed_file():
    args = build.pip_download_args("pyzmq-27.3.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl")
    assert args == ["pyzmq==27.3.0", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                    "--python-version", "3.12", "--abi", "abi3", "--platform", "manylinux_2_26_x86_64",
                    "--platform", "manylinux_2_28_x86_64"]
    assert build.pip_download_args("pyzmq-27.3.0-cp311-cp311-win_amd64.whl")[5:9] == [
        "--python-version", "3.11", "--abi", "cp311"]


@pytest.mark.parametrize("path, is_dir, expected", [
    ("__pycache__", True, True), ("vendor/__pycache__", True, True), ("build.py", False, True),
    ("vendor/build.py", False, False), ("vendor/.gitignore", False, True), ("x.zip", False, True),
    ("compat.py", False, False), ("__pycache__", False, False),
])
def test_exclude_patterns_follow_blenders_rules(path, is_dir, expected):
    patterns = MANIFEST["build"]["paths_exclude_pattern"]
    assert build.excluded(PurePosixPath(path), is_dir, patterns) is expected


def _fake_wheels(folder: Path) -> list[Path]:
    folder.mkdir()
    for name in build.wheel_names(MANIFEST):
        (folder / name).write_bytes(b"not a real wheel")
    return [folder / name for name in build.wheel_names(MANIFEST)]


def test_one_zip_per_python_line(tmp_path):
    zips = build.build_zips(tmp_path / "dist", _fake_wheels(tmp_path / "wheels"))
    version = MANIFEST["version"]
    assert [z.name for z in zips] == [f"mfmjt_vse-{version}-blender4.2-5.0.zip", f"mfmjt_vse-{version}-blender5.1+.zip"]
    bounds, abis = [], []
    for target in zips:
        with zipfile.ZipFile(target) as zf:
            names = set(zf.namelist())
            inside = tomllib.loads(zf.read("blender_manifest.toml").decode())
            vendored = zf.read("vendor/mfmjt_client/client.py")
        top = {p.name for p in PLUGIN.iterdir() if p.is_file()} - {"build.py"}
        assert {n for n in names if "/" not in n} == top and {"blender_manifest.toml", "__init__.py"} <= top
        client = {f"vendor/mfmjt_client/{n}" for n in ("__init__.py", *build.CLIENT_FILES)}
        assert client | {"vendor/__init__.py"} <= names
        wheels = {n for n in names if n.startswith("wheels/")}
        assert wheels == {w[2:] for w in inside["wheels"]} and len(wheels) == 3  # win, mac, linux
        abis.append({w.split("-")[3] for w in wheels})
        bounds.append((inside["blender_version_min"], inside.get("blender_version_max")))
        assert not [n for n in names if "__pycache__" in n or n.endswith((".gitignore", "build.py"))]
        assert vendored == (ROOT / "daemon" / "client.py").read_bytes()
        assert {k: v for k, v in inside.items() if k not in ("wheels", "blender_version_min", "blender_version_max")} \
            == {k: v for k, v in MANIFEST.items() if k not in ("wheels", "blender_version_min")}
    assert abis == [{"cp311"}, {"abi3"}]
    assert bounds == [("4.2.0", "5.1.0"), ("5.1.0", None)]
    assert not (tmp_path / "dist" / ".stage-mfmjt_vse").exists()


@pytest.mark.parametrize("version, variant", [((4, 2, 0), "blender4.2-5.0"), ((5, 0, 1), "blender4.2-5.0"),
                                              ((5, 1, 0), "blender5.1+"), ((5, 3, 0), "blender5.1+")])
def test_each_blender_gets_one_variant(version, variant):
    assert build.variant_for(version).name == variant


def test_build_refuses_missing_wheels(tmp_path):
    with pytest.raises(SystemExit, match="wheels listed in the manifest"):
        build.build_zips(tmp_path, [])


def test_extension_stays_free_of_the_model_stack():
    # Thin clients never import torch, numpy-heavy code or mfmjt_core (the hook greps for it too).
    heavy = re.compile(r"^\s*(import|from)\s+(torch|torchaudio|open_clip|numpy|mfmjt_core|mfmjt_daemon)\b",
                       re.MULTILINE)
    offenders = [p.name for p in Path(PLUGIN).rglob("*.py") if heavy.search(p.read_text())]
    assert offenders == []
