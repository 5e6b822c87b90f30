"""Specification: the CLI's entry module and the definition layer import only what they need.

``yishi --help`` must start fast, so ``engine.cli.main`` may not load CEL,
jsonschema, rich or transitions at import (each command imports them when it
runs); and the definition layer never loads the runtime or ``transitions``.
Each check runs in a fresh interpreter, so whatever this test process already
imported does not hide a regression (for example heavy imports added to
``engine/__init__.py``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("cel", "jsonschema", "rich", "transitions")


def loaded_after(statement: str) -> set[str]:
    """Top-level names of every module in ``sys.modules`` after running ``statement``."""
    program = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def roots(modules: set[str]) -> set[str]:
    """The top-level packages of some module names."""
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("module", ["engine", "engine.cli.main"])
def test_cli_entry_module_loads_no_heavy_module(module: str) -> None:
    """Importing ``engine`` or ``engine.cli.main`` loads none of cel, jsonschema, rich,
    transitions."""
    loaded = roots(loaded_after(f"import {module}"))

    assert loaded & set(HEAVY) == set()


@pytest.mark.parametrize(
    "module", ["engine.definition.describe", "engine.definition.diagram", "engine.cli.graph_cmd"]
)
def test_definition_layer_never_loads_the_runtime_or_transitions(module: str) -> None:
    """Describing and drawing a procedure needs neither the runtime nor transitions."""
    loaded = loaded_after(f"import {module}")

    assert "transitions" not in roots(loaded)
    assert {name for name in loaded if name.startswith("engine.runtime")} == set()


def test_drawing_a_diagram_needs_no_cel_jsonschema_or_rich() -> None:
    """The diagram module works from the model alone: no heavy module at import."""
    loaded = roots(loaded_after("import engine.definition.diagram"))

    assert loaded & set(HEAVY) == set()
