"""Install the MF-MJT scripts into DaVinci Resolve's Workspace > Scripts > Edit (`mfmjt install-resolve`).

Writes two menu scripts (Python for Studio, Lua for the free edition) and a library folder that
the Python script puts on sys.path: the Resolve package's client-side modules (`PACKAGE_FILES`;
not this installer, not the bridge), a copy of the thin daemon client (standard library + pyzmq)
and the request schema, and `resolve.json` (settings). Nothing is installed into Resolve's
Python: without pyzmq there the Python script falls back to `mfmjt resolve-bridge` (this mfmjt
installation), which the Lua script always uses. `--uninstall` removes what was written, except
the generated audio (timelines refer to it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

PYTHON_SCRIPT = "MF-MJT Sound.py"
LUA_SCRIPT = "MF-MJT Sound (Lua).lua"
SELFTEST_PYTHON = "MF-MJT Self-test.py"
SELFTEST_LUA = "MF-MJT Self-test (Lua).lua"
PACKAGE_FILES = ("__init__.py", "resolve_compat.py", "render.py", "placement.py", "transport.py",
                 "sound_for_range.py", "selftest.py")
CLIENT_FILES = ("client.py", "protocol.py", "events.py", "wav.py", "job_state.py")
MANIFEST = "installed.json"
SETTINGS = "resolve.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uninstall", action="store_true", help="remove the scripts and the library folder")
    parser.add_argument("--scripts-dir", help="Resolve's Scripts/Edit folder (default: the per-user one for this OS)")
    parser.add_argument("--lib-dir", help="where the library and resolve.json go (default: mfmjt's data folder)")
    parser.add_argument("--audio-dir", help="where generated WAVs are kept (default: ~/MF-MJT Audio)")
    parser.add_argument("--address", help="daemon endpoint the scripts use (default: tcp://127.0.0.1:5557)")


def default_scripts_dir(platform: str = sys.platform, env: dict | None = None) -> Path:
    """Resolve's per-user Fusion/Scripts/Edit folder (no administrator rights needed)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    if platform == "darwin":
        root = home / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts"
    elif platform.startswith("win"):
        appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        root = appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts"
    else:
        root = home / ".local/share/DaVinciResolve/Fusion/Scripts"
    return root / "Edit"


def plugin_source() -> Path:
    """This package's folder, with the script templates beside the modules that get copied."""
    folder = Path(__file__).resolve().parent
    if not (folder / "entry_script.lua").is_file():
        raise FileNotFoundError(f"the Resolve script templates are missing from {folder}")
    return folder


def client_source() -> Path:
    import mfmjt_daemon

    return Path(mfmjt_daemon.__file__).resolve().parent


def schema_source() -> Path:
    import mfmjt_schema

    return Path(mfmjt_schema.__file__).resolve().parent


def bridge_command() -> list[str]:
    """This installation's `mfmjt resolve-bridge` (the interpreter that runs this installer)."""
    return [sys.executable, "-m", "mfmjt_cli", "resolve-bridge"]


_CMD_SPECIAL = re.compile(r'([()%!^"<>&|])')


def cmd_quote(text: str) -> str:
    """One argument for a line that cmd.exe runs (the Lua script's io.popen on Windows).

    First the quoting the program's argument parser undoes (CommandLineToArgvW and the C
    runtime: backslashes double only before a quote), then a caret before every character
    cmd.exe treats specially, quotes included, so cmd sees no quoted region and no operator; a
    caret before % keeps %NAME% from expanding (cmd looks up "NAME^"). The same rules as
    `quote_windows` in entry_script.lua. A line break ends a cmd.exe command, so it is refused.
    """
    if re.search(r"[\r\n\0]", text):
        raise ValueError(f"a line break cannot be passed to cmd.exe: {text!r}")
    quoted = re.sub(r'(\\*)"', lambda m: m.group(1) * 2 + '\\"', text)
    quoted = '"' + re.sub(r"(\\+)$", r"\1\1", quoted) + '"'
    return _CMD_SPECIAL.sub(r"^\1", quoted)


def shell_line(argv: list[str], platform: str = sys.platform) -> str:
    """argv as one shell command line (cmd.exe rules on Windows, POSIX sh elsewhere)."""
    return " ".join(cmd_quote(a) for a in argv) if platform.startswith("win") else shlex.join(argv)


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        if key not in template:
            raise RuntimeError(f"template lacks {key}")
        template = template.replace(key, value)
    return template


def install(scripts_dir: Path, lib_dir: Path, audio_dir: Path | None, address: str | None) -> list[Path]:
    """Copy everything; returns the files written. Existing settings keep the user's edits."""
    source = plugin_source()
    package, client = lib_dir / "mfmjt_resolve", lib_dir / "mfmjt_client"
    for folder in (scripts_dir, package, client, lib_dir / "renders"):
        folder.mkdir(parents=True, exist_ok=True)
    written = [Path(shutil.copy2(source / name, package / name)) for name in PACKAGE_FILES]
    written += [Path(shutil.copy2(client_source() / name, client / name)) for name in CLIENT_FILES]
    schema = client / "mfmjt_schema"  # the request schema the client's protocol.py imports
    schema.mkdir(exist_ok=True)
    written += [Path(shutil.copy2(f, schema / f.name)) for f in sorted(schema_source().glob("*.py"))]
    (client / "__init__.py").write_text('"""The MF-MJT thin client (copied by `mfmjt install-resolve`)."""\n')
    settings_path = lib_dir / SETTINGS
    settings = json.loads(settings_path.read_text()) if settings_path.is_file() else {
        "prompt": "", "negative_prompt": "", "seed": None, "steps": None, "guidance": None, "channels": 2,
        "transport": "auto", "render_width": 640}
    settings["bridge_command"] = bridge_command()
    settings["render_dir"] = str(lib_dir / "renders")
    if audio_dir is not None or "audio_dir" not in settings:
        settings["audio_dir"] = str(audio_dir or Path.home() / "MF-MJT Audio")
    if address is not None or "address" not in settings:
        settings["address"] = address
    settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    python_script = scripts_dir / PYTHON_SCRIPT
    python_script.write_text(_fill((source / "entry_script.py").read_text(encoding="utf-8"), {
        "LIB_DIR = None  # @MFMJT_LIB_DIR@ (set by the installer)": f"LIB_DIR = {str(lib_dir)!r}"}), encoding="utf-8")
    lua_script = scripts_dir / LUA_SCRIPT
    lua_script.write_text(_fill((source / "entry_script.lua").read_text(encoding="utf-8"), {
        "@MFMJT_BRIDGE_COMMAND@": shell_line(bridge_command()), "@MFMJT_SETTINGS_FILE@": str(settings_path),
        "@MFMJT_RENDER_DIR@": str(lib_dir / "renders")}), encoding="utf-8")
    selftest_python = scripts_dir / SELFTEST_PYTHON
    selftest_python.write_text(_fill((source / "selftest_script.py").read_text(encoding="utf-8"), {
        "LIB_DIR = None  # @MFMJT_LIB_DIR@ (set by the installer)": f"LIB_DIR = {str(lib_dir)!r}"}), encoding="utf-8")
    selftest_lua = scripts_dir / SELFTEST_LUA
    selftest_lua.write_text(_fill((source / "selftest.lua").read_text(encoding="utf-8"), {
        "@MFMJT_RENDER_DIR@": str(lib_dir / "renders")}), encoding="utf-8")
    scripts = [python_script, lua_script, selftest_python, selftest_lua]
    written += [client / "__init__.py", settings_path, *scripts]
    manifest = {"scripts": [str(p) for p in scripts], "lib_dir": str(lib_dir)}
    (lib_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written


def uninstall(scripts_dir: Path, lib_dir: Path) -> list[Path]:
    """Remove the scripts and the library folder; returns what was removed."""
    manifest_path = lib_dir / MANIFEST
    scripts = [scripts_dir / name for name in (PYTHON_SCRIPT, LUA_SCRIPT, SELFTEST_PYTHON, SELFTEST_LUA)]
    if manifest_path.is_file():
        scripts += [Path(p) for p in json.loads(manifest_path.read_text()).get("scripts", [])]
    removed = []
    for path in dict.fromkeys(scripts):
        if path.is_file():
            path.unlink()
            removed.append(path)
    for name in ("mfmjt_resolve", "mfmjt_client", "renders"):
        if (lib_dir / name).is_dir():
            shutil.rmtree(lib_dir / name)
            removed.append(lib_dir / name)
    for name in (SETTINGS, MANIFEST):
        if (lib_dir / name).is_file():
            (lib_dir / name).unlink()
            removed.append(lib_dir / name)
    if lib_dir.is_dir() and not any(lib_dir.iterdir()):
        lib_dir.rmdir()
    return removed


def run(args: argparse.Namespace, default_lib_dir: Path) -> int:
    """Install or uninstall as the options say and tell the user what happened; the exit status.
    `default_lib_dir` is mfmjt's data folder (the command knows it) for when --lib-dir is not given."""
    scripts_dir = Path(args.scripts_dir).expanduser() if args.scripts_dir else default_scripts_dir()
    lib_dir = Path(args.lib_dir).expanduser() if args.lib_dir else default_lib_dir
    if args.uninstall:
        removed = uninstall(scripts_dir, lib_dir)
        print("\n".join(f"removed {p}" for p in removed) or "nothing to remove")
        print("generated audio was kept (your timelines use it)")
        return 0
    audio_dir = Path(args.audio_dir).expanduser() if args.audio_dir else None
    written = install(scripts_dir, lib_dir, audio_dir, args.address)
    print(f"installed into {scripts_dir}:\n  {PYTHON_SCRIPT}  (Resolve Studio)\n  {LUA_SCRIPT}  (free edition too)"
          f"\n  {SELFTEST_PYTHON} and {SELFTEST_LUA}  (run once: checks the Resolve facts the scripts rely on)")
    print(f"library and settings: {lib_dir} ({len(written)} files; edit {SETTINGS} for prompt, address, folders)")
    print("In Resolve: set In/Out on the timeline, put the prompt in a marker's note inside the range, then "
          "Workspace > Scripts > Edit > MF-MJT Sound. Keep `mfmjt serve` running.")
    print("The Python script talks to the daemon directly when pyzmq imports in Resolve's Python "
          "(e.g. `python3 -m pip install pyzmq` for the interpreter Resolve uses); otherwise it runs "
          f"{shell_line(bridge_command())}")
    return 0
