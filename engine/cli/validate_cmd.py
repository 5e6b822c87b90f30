"""``yishi validate``: every problem in every file, sorted by position, exit 1 on errors."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.definition.loader import check_source, read_source
from engine.errors import SourceUnreadable


def run_validate(paths: list[Path], *, strict: bool = False) -> int:
    """Check each file; print problems; return the exit code (1 when anything failed)."""
    failed = False
    for path in paths:
        try:
            report = check_source(read_source(path), str(path))
        except SourceUnreadable as exc:
            print(f"{exc.location}: {exc.reason}", file=sys.stderr)
            failed = True
            continue
        for problem in report.problems:
            print(problem)
        errors, warnings = report.counts  # past the listing's cap too
        if errors or (strict and warnings):
            failed = True
            print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
        else:
            note = f" ({warnings} warning(s))" if warnings else ""
            print(f"{path}: ok{note}", file=sys.stderr)
    return 1 if failed else 0
