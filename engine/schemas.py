"""Find the JSON Schemas that ship with yishi.

The schemas live at the top of the source tree (``schemas/``) so that procedure
files can point editors at ``../schemas/procedure.schema.json``; the wheel
carries the same files inside the package as ``engine/_schemas``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


def schema_dir() -> Path:
    """The directory holding the shipped schemas, installed or in a source tree."""
    packaged = Path(str(resources.files("engine"))) / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load a shipped schema by file name, e.g. ``procedure.schema.json``."""
    with (schema_dir() / name).open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded
