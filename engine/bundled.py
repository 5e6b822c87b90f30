"""Where the bundled procedures are, for the commands and pages that offer them.

``yishi demo`` runs them and the one-person workbench lists them; both sit above
this module, so the answer lives here rather than in either of them.
"""

from __future__ import annotations

from pathlib import Path


def procedures_dir() -> Path | None:
    """Where the bundled procedures are.

    Returns:
        The first ``procedures/`` directory holding YAML files, next to the source tree of
        the ``engine`` package or in the current directory; None when there is none.
    """
    source_tree = Path(__file__).resolve().parents[1]
    for candidate in (source_tree / "procedures", Path.cwd() / "procedures"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return None
