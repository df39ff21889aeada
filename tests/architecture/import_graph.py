"""The project's import graph, read from the source with `ast` (nothing is imported).

Every `import` counts, also those inside functions and under `TYPE_CHECKING`: a lazy import
still ties two modules together, it only hides the loop from the interpreter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Import name -> folder, as pyproject.toml's package-dir maps them.
PACKAGES: dict[str, str] = {
    "mfmjt_core": "mfmjt_core",
    "mfmjt_cli": "mfmjt_cli",
    "mfmjt_daemon": "daemon",
    "mfmjt_panel": "plugins/panel",
    "mfmjt_resolve": "plugins/resolve",
    "mfmjt_schema": "mfmjt_schema",
}


# The layers, by module-name prefix: a prefix covers the module of that name and everything below
# it (so `mfmjt_core.model` is one layer whether a module or a package); the longest prefix wins.
# The library's layers are stacked: each imports its own layer, those below it and the request
# schema (standard library only, shared with the clients). `base` is what the whole library
# shares: the package itself (its version) and its typed errors.
LIBRARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("mfmjt_core", "mfmjt_core.errors")),
    ("flows", ("mfmjt_core.flows",)),
    ("network/media/weights", ("mfmjt_core.network", "mfmjt_core.media", "mfmjt_core.weights")),
    ("codec/encoders/synth", ("mfmjt_core.codec", "mfmjt_core.encoders", "mfmjt_core.synth")),
    ("model", ("mfmjt_core.model",)),
    ("pipeline", ("mfmjt_core.pipeline",)),
    # benchmark.py measures generation speed as the evaluation measures quality
    ("training/evaluation", ("mfmjt_core.training", "mfmjt_core.evaluation", "mfmjt_core.benchmark")),
)
SCHEMA = ("mfmjt_schema",)
# Clients talk to the daemon over ZeroMQ: they import each other and the request schema only.
# `mfmjt_daemon` itself (its __init__) imports nothing and is the client's package.
CLIENT = ("mfmjt_daemon", "mfmjt_daemon.client", "mfmjt_daemon.protocol", "mfmjt_daemon.events",
          "mfmjt_daemon.wav", "mfmjt_daemon.job_state", "mfmjt_panel", "mfmjt_resolve")
# The application on top imports anything: the command line, the daemon's server side (wiring,
# queue, intake, keys) and `python -m mfmjt_core`, which only forwards to the command line.
APPLICATION = ("mfmjt_cli", "mfmjt_daemon.server", "mfmjt_daemon.serve", "mfmjt_daemon.intake",
               "mfmjt_daemon.jobs", "mfmjt_daemon.uploads", "mfmjt_daemon.keys", "mfmjt_daemon.local_token",
               "mfmjt_core.__main__")
# These cover their package's __init__ only: a new module inside them needs a line above.
PACKAGE_ONLY = frozenset({"mfmjt_core", "mfmjt_daemon"})

Layer = tuple[str, frozenset[str]]  # (name, the layers a module in it may import)


def layer_table() -> dict[str, Layer]:
    """Prefix -> its layer."""
    table: dict[str, Layer] = {p: ("schema", frozenset({"schema"})) for p in SCHEMA}
    below = {"schema"}
    for layer, prefixes in LIBRARY:
        below.add(layer)
        table.update((p, (layer, frozenset(below))) for p in prefixes)
    table.update((p, ("client", frozenset({"client", "schema"}))) for p in CLIENT)
    table.update((p, ("application", frozenset({"application", "client", *below}))) for p in APPLICATION)
    return table


def layer_of(module: str, table: dict[str, Layer]) -> Layer | None:
    """The layer of a module, None when no prefix covers it."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in table:
            return None if prefix in PACKAGE_ONLY and n < len(parts) else table[prefix]
    return None


@dataclass(frozen=True)
class ImportGraph:
    files: dict[str, Path]  # module -> source file
    edges: dict[str, frozenset[str]]  # module -> project modules it imports
    external: dict[str, frozenset[str]]  # module -> top-level names of everything else it imports
    lazy: dict[str, frozenset[str]]  # the part of `external` imported only inside functions

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module (Tarjan), sorted."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges.get(v, ())):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for module in sorted(self.files):
            if module not in index:
                visit(module)
        return sorted(found)

    def longest_chain(self) -> list[str]:
        """The longest path of imports (the graph must be acyclic)."""
        best: dict[str, list[str]] = {}

        def chain(v: str) -> list[str]:
            if v not in best:
                tails = [chain(w) for w in self.edges.get(v, ())]
                best[v] = [v, *max(tails, key=len, default=[])]
            return best[v]

        return max((chain(m) for m in sorted(self.files)), key=len)

    def layer_violations(self) -> tuple[list[str], list[str]]:
        """(modules no layer covers, imports against the layer rule as "a (layer) -> b (layer)")."""
        table = layer_table()
        layers = {m: layer_of(m, table) for m in self.files}
        unplaced = sorted(m for m, found in layers.items() if found is None)
        wrong = []
        for module, targets in sorted(self.edges.items()):
            if layers[module] is None:
                continue
            layer, allowed = layers[module]
            for target in sorted(targets):
                if target in layers and layers[target] is not None and layers[target][0] not in allowed:
                    wrong.append(f"{module} ({layer}) -> {target} ({layers[target][0]})")
        return unplaced, wrong


def _modules(root: Path) -> Iterator[tuple[str, Path]]:
    for name, folder in PACKAGES.items():
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if "vendor" in parts:  # third-party wheels vendored into the Blender zip
                continue
            yield ".".join([name, *(p for p in parts if p != "__init__")]), path


def _import_nodes(tree: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
        yield from _import_nodes(
            node, in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))


def _imported_names(module: str, path: Path, tree: ast.Module) -> Iterator[tuple[str, bool]]:
    """(imported name, whether only inside a function) for every import of a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, lazy in _import_nodes(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base, lazy
            yield from ((f"{base}.{alias.name}", lazy) for alias in node.names)


def read_graph(root: Path = ROOT) -> ImportGraph:
    files = dict(_modules(root))
    edges: dict[str, frozenset[str]] = {}
    external: dict[str, frozenset[str]] = {}
    lazy: dict[str, frozenset[str]] = {}
    for module, path in files.items():
        inside, outside, eager = set(), set(), set()
        for name, in_function in _imported_names(module, path, ast.parse(path.read_text(), str(path))):
            target = name
            while target and target not in files:
                target = target.rpartition(".")[0]
            if target:
                if target != module:
                    inside.add(target)
            elif name.split(".")[0] not in PACKAGES:
                outside.add(name.split(".")[0])
                if not in_function:
                    eager.add(name.split(".")[0])
        edges[module] = frozenset(inside)
        external[module] = frozenset(outside)
        lazy[module] = frozenset(outside - eager)
    return ImportGraph(files, edges, external, lazy)
