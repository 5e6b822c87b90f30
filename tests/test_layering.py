"""Dependencies point one way: the definition layer never imports the runtime or transitions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("transitions", "engine.runtime", "engine.audit", "engine.storage", "engine.server")


def _modules_after_import(module: str) -> list[str]:
    """The modules loaded by a fresh interpreter after ``import module``."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        "engine.definition.loader",
        "engine.definition.compile",
        "engine.definition.lint",
        "engine.guards.checks",
        "engine.actions.registry",
    ],
)
def test_definition_layer_does_not_import_later_stages(module: str) -> None:
    """Loading and checking a procedure needs neither the runtime nor transitions."""
    loaded = _modules_after_import(module)
    leaked = [m for m in loaded if any(m == f or m.startswith(f"{f}.") for f in FORBIDDEN)]
    assert leaked == []


def test_guards_do_not_import_the_definition_layer() -> None:
    """engine.guards is a leaf: it knows numbers and expressions, not procedures."""
    loaded = _modules_after_import("engine.guards.checks")
    assert [m for m in loaded if m.startswith("engine.definition")] == []
