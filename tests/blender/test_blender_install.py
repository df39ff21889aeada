"""The built zips pass Blender's own manifest check; the one for this Blender installs through
Blender's extension system (which unpacks its pyzmq wheel), the other is refused. Installs run in
a child Blender process with its own user folder, so the installed copy never meets the one the
other tests registered."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from blender_testing import PLUGIN, ROOT, import_bpy, load_build_module

bpy = import_bpy()
build = load_build_module()
WHEELS = ROOT / "dist" / "wheels"  # build.py's download cache

INSTALL_SCRIPT = """
import json, os, sys
import bpy
result = bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
name = "bl_ext.user_default.mfmjt_vse"
if name not in bpy.context.preferences.addons:
    print(json.dumps({"installed": False}))
    sys.exit(0)
from bl_ext.user_default.mfmjt_vse import daemon_link
site = os.path.join(os.environ["BLENDER_USER_RESOURCES"], "extensions", ".local", "lib",
                    f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
print(json.dumps({"installed": True, "result": sorted(result),
                  "address": bpy.context.preferences.addons[name].preferences.address,
                  "client": daemon_link.client_module().__name__,
                  "unpacked": sorted(os.listdir(site)) if os.path.isdir(site) else []}))
"""


def _blender_ext_cli() -> Path:
    """Blender's extension command line (blender_ext.py), shipped inside the bpy module."""
    path = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    if not path.exists():
        pytest.skip("this bpy build has no extension command line")
    return path


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    """The zips built from the current sources with the wheels cached by `build.py` (no network),
    by variant name."""
    wheels = [WHEELS / name for name in build.wheel_names(build.read_manifest())]
    if not all(w.exists() for w in wheels):
        pytest.skip("no cached wheels: run `python plugins/blender_vse/build.py` once (downloads them)")
    zips = build.build_zips(tmp_path_factory.mktemp("dist"), wheels)
    return {variant.name: path for variant, path in zip(build.VARIANTS, zips, strict=True)}


def _install(package: Path, tmp_path: Path) -> tuple[dict, str]:
    """(the child's report, its output)."""
    env = {"BLENDER_USER_RESOURCES": str(tmp_path / "user"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", INSTALL_SCRIPT, str(package)], check=False, capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr


@pytest.mark.parametrize("variant", [v.name for v in build.VARIANTS] + ["source folder"])
def test_blenders_validator_accepts_the_manifest(packages, variant):
    target = PLUGIN if variant == "source folder" else packages[variant]
    done = subprocess.run([sys.executable, str(_blender_ext_cli()), "validate", str(target)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_other_variant_is_refused(packages, tmp_path):
    mine = build.variant_for(bpy.app.version)
    (other,) = [v for v in build.VARIANTS if v != mine]
    report, output = _install(packages[other.name], tmp_path)
    assert not report["installed"]
    assert re.search(r"This Blender version \(\d+\.\d+\.\d+\) (doesn't meet the minimum|must be less than the "
                     r"maximum) (supported )?version \(5\.1\.0\)", output), output[-2000:]


def test_zip_installs_and_enables_in_blender(packages, tmp_path):
    report, output = _install(packages[build.variant_for(bpy.app.version).name], tmp_path)
    assert report["installed"] and report["result"] == ["FINISHED"], output[-2000:]
    assert report["address"] == "tcp://127.0.0.1:5557"
    assert report["client"] == "bl_ext.user_default.mfmjt_vse.vendor.mfmjt_client.client"
    assert "zmq" in report["unpacked"] and any(n.startswith("pyzmq-") for n in report["unpacked"])
