"""``yishi verify FILE``: check every hash chain; name the first bad case and seq.

Exit codes: 0 every chain intact; 1 the log is damaged (printed as
``FILE:LINE: case C seq S: what is wrong``); 2 the file cannot be read at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.audit import LogUnreadable, verify_file


def run_verify(path: Path) -> int:
    """Verify ``path``, print the outcome, return the exit code.

    Args:
        path: the audit log (JSON Lines).

    Returns:
        0 when intact, 1 at the first problem, 2 when the file cannot be read.
    """
    try:
        report = verify_file(path)
    except LogUnreadable as exc:
        print(exc, file=sys.stderr)  # "FILE: why": it names the file already
        return 2
    if report.failure is None:
        print(report.message)
        return 0
    failure = report.failure
    print(f"{path}:{failure.line}: {failure.where}{failure.message}")
    return 1
