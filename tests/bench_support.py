"""Load a script of bench/ as a module, so a test can check what it measures.

bench/ is not a package: a script is loaded by its path, and registered in
``sys.modules`` before it runs, as its dataclasses need to find their own module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load_bench(script: str, name: str) -> ModuleType:
    """``bench/<script>`` as the module ``name`` (loaded once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
