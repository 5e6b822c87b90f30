"""Load CEL's compiled core without the package's interactive shell.

``import cel`` also imports the package's REPL (prompt_toolkit, typer, rich):
about 200 ms, most of ``yishi validate``'s start-up. yishi needs only the Rust
extension ``cel.cel``, so this module loads that file directly, and falls back
to the ordinary import if the package is laid out differently.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_core() -> ModuleType:
    """The ``cel.cel`` extension module (``compile``, ``Program``, ``Context``)."""
    loaded = sys.modules.get("cel.cel")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("cel")
    locations = list(package.submodule_search_locations or []) if package else []
    for folder in locations:
        for candidate in sorted(Path(folder).glob("cel.*.so")) + sorted(
            Path(folder).glob("cel.*.pyd")
        ):
            spec = importlib.util.spec_from_file_location("cel.cel", candidate)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules["cel.cel"] = module
            return module
    import cel  # pragma: no cover - unusual layouts only

    return cel  # pragma: no cover
