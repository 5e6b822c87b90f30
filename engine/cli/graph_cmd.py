"""``yishi graph``: print a procedure as a Mermaid or Graphviz DOT diagram.

The diagram goes to stdout alone, so it can be piped (``yishi graph P -f dot |
dot -Tsvg``); problems go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.loading import load_or_report
from engine.definition.diagram import FORMATS, render


def run_graph(path: Path, fmt: str) -> int:
    """Print one procedure's diagram.

    Args:
        path: the procedure file.
        fmt: ``"mermaid"`` or ``"dot"``.

    Returns:
        0 when drawn; 2 for an unknown format (checked before the file is read); 1 when
        the file is missing or invalid (its located problems are printed to stderr).
    """
    if fmt not in FORMATS:
        print(
            f"error: unknown format {fmt!r}: use --format {' or --format '.join(FORMATS)}",
            file=sys.stderr,
        )
        return 2
    compiled = load_or_report(path)
    if compiled is None:
        return 1
    sys.stdout.write(render(compiled.procedure, fmt))
    return 0
