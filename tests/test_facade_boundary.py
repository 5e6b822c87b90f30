"""Specification: the interfaces reach cases and procedures through the Engine only.

The HTTP API (``engine/server``), the workbench (``engine/web``) and the command
line (``engine/cli``) ask an ``Engine``; none of them imports ``engine.storage``
(a store is opened from a URL by ``Engine.from_url``) or touches an engine's
``store`` attribute. The check reads the source (AST), so it sees imports inside
functions as well as at the top, and needs nothing imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"
INTERFACES = ("server", "web", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute names an import statement brings in (relative ones resolved)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def reaches_past_the_engine(source: str, module: str, is_package: bool = False) -> list[str]:
    """Each place in ``source`` that imports the storage layer or touches ``.store``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = _imported(node, module, is_package)
            storage = [n for n in names if n == "engine.storage" or n.startswith("engine.storage.")]
            if storage:
                found.append((node.lineno, f"line {node.lineno}: imports {storage[-1]}"))
        elif isinstance(node, ast.Attribute) and node.attr == "store":
            found.append((node.lineno, f"line {node.lineno}: .store"))
    return [text for _, text in sorted(found)]


def _interface_modules() -> list[Path]:
    return sorted(p for name in INTERFACES for p in (ENGINE / name).rglob("*.py"))


@pytest.mark.parametrize(
    "path", _interface_modules(), ids=lambda p: str(p.relative_to(ENGINE.parent))
)
def test_interface_module_does_not_reach_past_the_engine(path: Path) -> None:
    """No module of engine/server, engine/web or engine/cli imports engine.storage or
    reads an engine's store: every case, procedure and record comes from an Engine method."""
    source = path.read_text(encoding="utf-8")
    found = reaches_past_the_engine(source, _module_name(path), path.name == "__init__.py")
    assert found == []


def test_the_check_sees_every_way_of_reaching_the_store() -> None:
    """The checker itself: a top-level import, a lazy import, a relative import, a
    ``from engine import storage`` and a ``.store`` read are each reported."""
    source = (
        "from engine.storage.base import CaseSnapshot\n"
        "def f(engine):\n"
        "    from engine.storage.rows import decode_cursor\n"
        "    from ..storage import url\n"
        "    from engine import storage\n"
        "    import engine.storage.sqlite\n"
        "    return engine.store.get_case('x')\n"
        "def g(engine):\n"
        "    from engine.runtime.queries import CaseFilter\n"
        "    return engine.snapshot('x')\n"
    )
    found = reaches_past_the_engine(source, "engine.server.example")

    assert [line.split(":")[0] for line in found] == [
        "line 1", "line 3", "line 4", "line 5", "line 6", "line 7",
    ]  # fmt: skip
    assert len(_interface_modules()) > 40  # the sweep above really reads the interfaces
