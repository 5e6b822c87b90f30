"""Load one procedure for a command, or print its located problems.

``describe``, ``graph`` and ``demo`` need a procedure that loads cleanly; when
it does not, the user should see exactly what ``validate`` would show
(``file:line:col: path: message``, all at once) on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import check_source, read_source
from engine.errors import SourceUnreadable


def load_or_report(path: Path) -> CompiledProcedure | None:
    """Load and compile a procedure file, printing its problems when it has errors.

    Args:
        path: the procedure file.

    Returns:
        The compiled procedure, or None when the file is missing, unreadable or invalid
        (its problems have then been printed to stderr, sorted by position).
    """
    try:
        report = check_source(read_source(path), str(path))
    except SourceUnreadable as exc:
        # Same shape as ``yishi validate``, so editors and scripts read one format.
        print(f"{exc.location}: {exc.reason}", file=sys.stderr)
        return None
    if report.compiled is not None:
        return report.compiled
    for problem in report.problems:
        print(problem, file=sys.stderr)
    errors, warnings = report.counts  # past the listing's cap too
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return None
