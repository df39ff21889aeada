"""The import rules the project keeps: no loops, and clients free of the model stack."""

from __future__ import annotations

import sys
import textwrap

from tests.architecture.import_graph import ImportGraph, read_graph

# The client side: the daemon's client modules and every editor plugin. Editors install nothing
# but pyzmq, so at import time a client needs only the standard library and zmq (the panel, a
# desktop program of its own, also brings Qt, PyAV and numpy). Inside functions a client may
# reach for an optional speed-up (numpy), its host's module (Resolve's DaVinciResolveScript) or
# the copy of the daemon client vendored beside it (mfmjt_client); never for the model stack.
CLIENT_MODULES = ("mfmjt_daemon.client", "mfmjt_daemon.protocol", "mfmjt_daemon.events",
                  "mfmjt_daemon.wav", "mfmjt_daemon.job_state")
CLIENT_PACKAGES = ("mfmjt_panel", "mfmjt_resolve", "mfmjt_schema")
CLIENT_EAGER = {"zmq"}
PANEL_EAGER = {"PySide6", "shiboken6", "av", "numpy"}
CLIENT_LAZY = {"numpy", "DaVinciResolveScript", "mfmjt_client"}


def _client_closure(graph: ImportGraph) -> set[str]:
    todo = [m for m in graph.files
            if m in CLIENT_MODULES or m.split(".")[0] in CLIENT_PACKAGES]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.edges[module])
    return seen


def test_the_graph_reader_sees_loops_and_lazy_imports(tmp_path):
    pkg = tmp_path / "mfmjt_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from mfmjt_core import b\n")
    (pkg / "b.py").write_text(textwrap.dedent("""
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .a import thing
        def f():
            import torch
    """))
    graph = read_graph(tmp_path)
    assert graph.cycles() == [["mfmjt_core.a", "mfmjt_core.b"]]
    assert graph.external["mfmjt_core.b"] == {"typing", "torch"}
    assert graph.lazy["mfmjt_core.b"] == {"torch"}


def test_no_import_cycles():
    cycles = read_graph().cycles()
    assert not cycles, "import loops:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_clients_import_only_the_standard_library_pyzmq_qt_and_the_schema():
    graph = read_graph()
    client = _client_closure(graph)
    leaks = {}
    for module in sorted(client):
        allowed = CLIENT_EAGER | (PANEL_EAGER if module.startswith("mfmjt_panel") else set())
        names = {n for n in graph.external[module] - set(sys.stdlib_module_names) - allowed
                 if not (n in CLIENT_LAZY and n in graph.lazy[module])}
        if names:
            leaks[module] = sorted(names)
    assert not leaks, f"client modules import more than they may: {leaks}"
    assert not any(m.startswith("mfmjt_core") for m in client), sorted(client)
