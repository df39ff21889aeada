"""Reach the running DaVinci Resolve from outside it and run the self-test (`mfmjt resolve-selftest`).

Reaches Resolve through its external scripting (Studio, with Preferences > System > General >
External scripting using "Local"), then runs `mfmjt_resolve.selftest` on a scratch timeline it
removes afterwards. The free edition has no external scripting: there, run Workspace > Scripts >
Edit > "MF-MJT Self-test (Lua)" (installed by `mfmjt install-resolve`). Exit status 0 when no
check failed, 1 otherwise (or when Resolve cannot be reached).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def scripting_paths(platform: str = sys.platform, env: dict | None = None) -> tuple[Path, Path]:
    """(Developer/Scripting folder, fusionscript library) where Resolve installs them, per OS
    (the README of Resolve's Developer/Scripting folder); the environment variables win."""
    env = os.environ if env is None else env
    if platform == "darwin":
        api = Path("/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting")
        lib = Path("/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so")
    elif platform.startswith("win"):
        data = Path(env.get("PROGRAMDATA") or r"C:\ProgramData")
        api = data / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Developer" / "Scripting"
        lib = Path(env.get("PROGRAMFILES") or r"C:\Program Files") / "Blackmagic Design" / "DaVinci Resolve" / \
            "fusionscript.dll"
    else:
        api = Path("/opt/resolve/Developer/Scripting")
        lib = Path("/opt/resolve/libs/Fusion/fusionscript.so")
    return Path(env.get("RESOLVE_SCRIPT_API") or api), Path(env.get("RESOLVE_SCRIPT_LIB") or lib)


def connect(api_dir: Path | None = None):
    """The running Resolve through DaVinciResolveScript, or None with the reason."""
    api, lib = scripting_paths()
    api = api_dir or api
    os.environ.setdefault("RESOLVE_SCRIPT_API", str(api))
    os.environ.setdefault("RESOLVE_SCRIPT_LIB", str(lib))
    modules = str(api / "Modules")
    if modules not in sys.path:
        sys.path.append(modules)
    try:
        import DaVinciResolveScript
    except ImportError as exc:
        return None, f"Resolve's scripting module is not in {modules} ({exc})"
    try:
        resolve = DaVinciResolveScript.scriptapp("Resolve")
    except Exception as exc:  # the module raises whatever fusionscript does
        return None, f"DaVinciResolveScript failed: {exc}"
    if resolve is None:
        return None, "Resolve did not answer (is it running, Studio, with external scripting set to Local?)"
    return resolve, ""


def run_selftest(api_dir: Path | None = None) -> int:
    """The self-test in the running Resolve; 0 when no check failed, 1 otherwise or unreachable."""
    from mfmjt_resolve.selftest import main

    resolve, reason = connect(api_dir)
    if resolve is None:
        print(f"mfmjt resolve-selftest: cannot reach DaVinci Resolve: {reason}. In the free edition run "
              "Workspace > Scripts > Edit > MF-MJT Self-test (Lua) inside Resolve instead "
              "(`mfmjt install-resolve` puts it there).", file=sys.stderr)
        return 1
    return main(resolve)
