"""A real daemon, the scripts installed by `mfmjt install-resolve` into a temporary Resolve
folder, and a bridge that lets the Lua script call the fake Resolve (lupa, LuaJIT 2.1 like
Resolve's own Lua)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from daemon_process import running_daemon

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def daemon_address(tmp_path_factory):
    """One daemon for the folder; its address."""
    yield from running_daemon(tmp_path_factory.mktemp("daemon"))


@pytest.fixture(scope="session")
def installed(tmp_path_factory, daemon_address):
    """`mfmjt install-resolve` into a temporary Scripts/Edit folder; the lib dir on sys.path."""
    from mfmjt_cli.entry import main

    base = tmp_path_factory.mktemp("resolve-install")
    dirs = {"scripts": base / "Fusion" / "Scripts" / "Edit", "lib": base / "lib", "audio": base / "MF-MJT Audio"}
    code = main(["install-resolve", "--scripts-dir", str(dirs["scripts"]), "--lib-dir", str(dirs["lib"]),
                 "--audio-dir", str(dirs["audio"]), "--address", daemon_address])
    assert code == 0
    # The tests use the installed copy, as Resolve does; the installer, part of the checkout's
    # mfmjt_resolve, imported that package here, so it is forgotten first.
    for name in [m for m in sys.modules if m == "mfmjt_resolve" or m.startswith("mfmjt_resolve.")]:
        del sys.modules[name]
    sys.path.insert(0, str(dirs["lib"]))
    yield dirs
    sys.path.remove(str(dirs["lib"]))


class LuaProxy:
    """A Resolve object as Resolve's Lua sees it: methods called with `obj:Method(...)`, Lua
    tables in and out (lists 1-based), numbers as Lua numbers."""

    def __init__(self, bridge: LuaBridge, target) -> None:
        self._bridge, self._target = bridge, target

    def __getattr__(self, name):
        method = getattr(self._target, name)

        def call(*args):
            if args and args[0] is self:  # colon syntax passes the object first
                args = args[1:]
            return self._bridge.to_lua(method(*(self._bridge.to_python(a) for a in args)))

        return call


class LuaBridge:
    def __init__(self) -> None:
        import lupa.luajit21 as luajit

        self.lupa = luajit
        self.lua = luajit.LuaRuntime(unpack_returned_tuples=True)
        # lupa 2.8 can hand Lua the wrong Python object once Lua's collector has released a
        # temporary one but not yet freed it (scoder/lupa#294, fix pending in #296): the script
        # then saw a method closure where the media pool belonged, now and then. These runs
        # are short, so the collector stays off for the bridge's life.
        self.lua.execute("collectgarbage('stop')")
        self._proxies: dict[int, LuaProxy] = {}

    def to_python(self, value):
        if isinstance(value, LuaProxy):
            return value._target
        if self.lupa.lua_type(value) == "table":
            keys = list(value.keys())
            if (
                keys
                and all(isinstance(k, (int, float)) for k in keys)
                and sorted(keys) == list(range(1, len(keys) + 1))
            ):
                return [self.to_python(value[k]) for k in range(1, len(keys) + 1)]
            return {k: self.to_python(v) for k, v in value.items()}
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def to_lua(self, value):
        from fake_resolve import ResolveObject

        if isinstance(value, ResolveObject):
            return self._proxies.setdefault(id(value), LuaProxy(self, value))
        if isinstance(value, dict):
            return self.lua.table_from({k: self.to_lua(v) for k, v in value.items()})
        if isinstance(value, (list, tuple)):
            return self.lua.table_from([self.to_lua(v) for v in value])
        if isinstance(value, Path):
            return str(value)
        return value

    def run_script(self, path: Path, resolve, waits: list[float]) -> dict:
        """Run a Lua file with `resolve` and `bmd.wait` as Resolve provides them; MFMJT_OUTCOME."""
        g = self.lua.globals()
        g.resolve = self.to_lua(resolve)
        g.bmd = self.lua.table_from({"wait": lambda seconds: waits.append(seconds)})
        self.lua.execute(path.read_text(encoding="utf-8"))
        outcome = g.MFMJT_OUTCOME
        return self.to_python(outcome) if outcome is not None else {}


@pytest.fixture
def lua():
    pytest.importorskip("lupa")
    return LuaBridge()
