"""The import rules the project keeps: the layers (docs/architecture.md), no loops, and clients
free of the model stack."""

from __future__ import annotations

import sys
import textwrap

from tests.architecture.import_graph import ImportGraph, layer_of, layer_table, read_graph

# The client side: the daemon's client modules and every editor plugin. Editors install nothing
# but pyzmq, so at import time a client needs only the standard library and zmq (the panel, a
# desktop program of its own, also brings Qt, PyAV and numpy). Inside functions a client may
# reach for an optional speed-up (numpy), its host's module (Resolve's DaVinciResolveScript) or
# the copy of the daemon client vendored beside it (mfmjt_client); never for the model stack.
CLIENT_EAGER = {"zmq"}
PANEL_EAGER = {"PySide6", "shiboken6", "av", "numpy"}
CLIENT_LAZY = {"numpy", "DaVinciResolveScript", "mfmjt_client"}


def _client_closure(graph: ImportGraph) -> set[str]:
    table = layer_table()
    todo = [m for m in graph.files if (layer_of(m, table) or ("",))[0] in ("client", "schema")]
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


def _graph(edges: dict[str, set[str]]) -> ImportGraph:
    files = {m: None for m in {*edges, *(t for ts in edges.values() for t in ts)}}
    return ImportGraph(files, {m: frozenset(edges.get(m, ())) for m in files}, {}, {})


def test_the_layer_check_finds_upward_imports_and_unplaced_modules():
    clean = _graph({"mfmjt_cli.commands.serve": {"mfmjt_daemon.serve", "mfmjt_core.pipeline.generator"},
                    "mfmjt_daemon.serve": {"mfmjt_daemon.server", "mfmjt_core.pipeline.generator"},
                    "mfmjt_core.pipeline.generator": {"mfmjt_core.model.spec", "mfmjt_core.flows", "mfmjt_schema"},
                    "mfmjt_core.model.spec": {"mfmjt_core.errors", "mfmjt_core.network.mmdit"},
                    "mfmjt_core.model": {"mfmjt_core.model.spec"},
                    "mfmjt_resolve.bridge": {"mfmjt_daemon.client", "mfmjt_schema.fields"},
                    "mfmjt_daemon.client": {"mfmjt_daemon.protocol"}})
    assert clean.layer_violations() == ([], [])
    planted = _graph({"mfmjt_core.flows.meanflow": {"mfmjt_core.pipeline.sampling"},
                      "mfmjt_core.pipeline.generator": {"mfmjt_cli.entry", "mfmjt_daemon.client"},
                      "mfmjt_core.model.file": {"mfmjt_core.training.recipes"},
                      "mfmjt_daemon.client": {"mfmjt_core.errors", "mfmjt_daemon.jobs"},
                      "mfmjt_panel.form": {"mfmjt_core.media"},
                      "mfmjt_core.stray": set(), "mfmjt_daemon.new_side": set()})
    unplaced, wrong = planted.layer_violations()
    assert unplaced == ["mfmjt_core.stray", "mfmjt_daemon.new_side"]
    assert wrong == [
        "mfmjt_core.flows.meanflow (flows) -> mfmjt_core.pipeline.sampling (pipeline)",
        "mfmjt_core.model.file (model) -> mfmjt_core.training.recipes (training/evaluation)",
        "mfmjt_core.pipeline.generator (pipeline) -> mfmjt_cli.entry (application)",
        "mfmjt_core.pipeline.generator (pipeline) -> mfmjt_daemon.client (client)",
        "mfmjt_daemon.client (client) -> mfmjt_core.errors (base)",
        "mfmjt_daemon.client (client) -> mfmjt_daemon.jobs (application)",
        "mfmjt_panel.form (client) -> mfmjt_core.media (network/media/weights)",
    ]


def test_every_module_has_a_layer_and_imports_only_its_own_and_lower_ones():
    """flows <- network/media/weights <- codec/encoders/synth <- model <- pipeline <-
    training/evaluation <- application (the CLI, the daemon's server side); clients import the
    request schema and each other only; nothing in the library imports the application or a
    client."""
    unplaced, wrong = read_graph().layer_violations()
    assert not unplaced, f"modules without a layer (give them one in import_graph.py): {unplaced}"
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


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
