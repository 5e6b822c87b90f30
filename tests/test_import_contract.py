"""Specification: the engine's layers import one way, and no module imports itself back.

The layers, lowest first, are ``LAYERS`` below; a module may import modules of
its own layer and of the layers beneath it, never of a layer above. The check is
static (each module's syntax tree, never importing it), so it sees what a test
of ``sys.modules`` cannot:

- imports inside functions (the lazy imports that keep ``yishi --help`` fast,
  and that once hid governance → runtime), counted like any other;
- imports under ``if TYPE_CHECKING:``, counted too: a type named from a layer
  above is still knowledge of that layer (a ``Protocol`` in the lower layer
  says what it needs instead);
- a package's ``__init__`` runs whenever one of its modules is imported, so
  ``import a.b.c`` is an edge to ``a.b`` as well as to ``a.b.c`` when that
  ``__init__`` imports engine modules at its top level (except from a module
  inside ``a.b``, which Python imports through ``a.b`` anyway; and the root
  ``engine``, whose ``__init__`` imports only on first use of a name).

Beside the layer order, the module graph must have no cycle at all, so an
import's result never depends on which module happened to be imported first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("errors", ("engine.errors",)),
    (
        "foundations",
        (
            "engine.bundled",
            "engine.frozen",
            "engine.regular_file",
            "engine.schemas",
            "engine.units",
        ),
    ),
    ("guards", ("engine.guards",)),
    ("governance", ("engine.governance",)),
    ("actions", ("engine.actions",)),
    # The frozen procedure model, and the checks of the templates it names, come
    # before the loader that builds the model and runs those checks.
    ("model", ("engine.definition.model",)),
    (
        "templates",
        (
            "engine.documents.text",
            "engine.documents.sandbox",
            "engine.documents.context",
            "engine.documents.check",
        ),
    ),
    ("definition", ("engine.definition", "engine.reference")),
    ("audit", ("engine.audit",)),
    # A case's state is the runtime's own type; the stores record and return it, so
    # that one leaf module (it imports nothing of yishi) sits below them.
    ("snapshot", ("engine.runtime.snapshot",)),
    ("storage", ("engine.storage",)),
    # Documents are read from a store at a case's head; the Engine offers them as one
    # of its reads, so they sit below the runtime.
    ("documents", ("engine.documents",)),
    ("runtime", ("engine.runtime",)),
    ("http", ("engine.server",)),
    ("workbench", ("engine.web",)),
    # The application assembles the API and the workbench, and serves them.
    ("app", ("engine.server.app", "engine.server.serve")),
    ("cli", ("engine.cli",)),
    ("package", ("engine",)),
)


def module_name(path: Path) -> str:
    """``engine/a/b.py`` as ``engine.a.b``; a package's ``__init__.py`` as the package."""
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}


PLACED = {"engine.server": "app"}
"""Package inits placed apart from their modules: ``engine.server`` offers ``create_app``."""


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` of the longest prefix that names ``module``."""
    if module in PLACED:
        return [name for name, _ in LAYERS].index(PLACED[module])
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def _imported(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every engine module an import statement in ``tree`` names, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # ``from engine.x import y`` names module x.y when there is one, else x
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield (submodule if submodule in MODULES else source), node.lineno


def _runs_imports(path: Path) -> bool:
    """Whether importing this ``__init__`` imports engine modules (top-level statements only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name.startswith("engine.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine"):
            return True
    return False


RUNNING_INITS = frozenset(
    module
    for module, path in MODULES.items()
    if path.name == "__init__.py" and module != "engine" and _runs_imports(path)
)
"""Packages whose ``__init__`` imports engine modules when the package is imported."""


def edges() -> dict[str, set[tuple[str, int]]]:
    """For each engine module, the engine modules it imports (and their parents)."""
    found: dict[str, set[tuple[str, int]]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets: set[tuple[str, int]] = set()
        for name, line in _imported(tree, module, path.name == "__init__.py"):
            if name != "engine" and not name.startswith("engine."):
                continue
            parts = name.split(".")
            for end in range(2, len(parts) + 1):  # the package inits run first
                target = ".".join(parts[:end])
                if target == name:
                    if target in MODULES and target != module:
                        targets.add((target, line))
                elif target in RUNNING_INITS and not (module + ".").startswith(target + "."):
                    targets.add((target, line))
            if name == "engine" and module != "engine":
                targets.add(("engine", line))
        found[module] = targets
    return found


def test_every_module_has_a_layer() -> None:
    """A new module or package is placed in a layer on purpose, never by default."""
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except AssertionError:
            unplaced.append(module)
    assert unplaced == []


def test_imports_point_down_the_layers() -> None:
    """No module imports a module of a higher layer, lazily or for types only."""
    upward = []
    for module, targets in edges().items():
        mine = layer_of(module)
        for target, line in sorted(targets):
            theirs = layer_of(target)
            if theirs > mine:
                upward.append(
                    f"{MODULES[module].relative_to(ENGINE.parent)}:{line}: "
                    f"{module} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]})"
                )
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    """No chain of imports, lazy ones included, leads from a module back to itself."""
    graph = {module: {target for target, _ in targets} for module, targets in edges().items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    """The check above can fail: a cycle of two or three modules is reported."""
    assert _cycles(graph) == expected


def test_a_lazy_import_is_an_edge() -> None:
    """An import inside a function, or under TYPE_CHECKING, is seen like a top-level one."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from engine.runtime.engine import Engine\n"
        "def f():\n    from engine.storage import base\n"
    )
    found = {name for name, _ in _imported(ast.parse(source), "engine.x", False)}
    assert {"engine.runtime.engine", "engine.storage.base"} <= found


def test_the_back_edges_fixed_here_would_be_refused() -> None:
    """governance → runtime (deadlines), definition → the document renderer, workbench →
    CLI and HTTP parts → the assembled app all point up the layers."""
    assert layer_of("engine.runtime.deadlines") > layer_of("engine.governance.disclosure")
    assert layer_of("engine.documents.render") > layer_of("engine.definition.loader")
    assert layer_of("engine.cli.demo_cmd") > layer_of("engine.web.local")
    assert (
        layer_of("engine.server.app")
        > layer_of("engine.web.scope")
        > layer_of("engine.server.auth")
    )
