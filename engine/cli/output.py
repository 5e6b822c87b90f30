"""Shared output helpers for commands: one console, located problems on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from engine.errors import Problem

if TYPE_CHECKING:
    from rich.console import Console


@cache
def console() -> Console:
    """The console commands print tables to (rich is imported on first use)."""
    import shutil

    from rich.console import Console

    # Piped output (CI logs, files) gets room for the tables' Chinese labels and
    # explanations instead of rich's default of 80 columns.
    width = None if sys.stdout.isatty() else max(shutil.get_terminal_size().columns, 150)
    return Console(highlight=False, width=width)


def print_problems(problems: Iterable[Problem]) -> None:
    """Print problems as ``file:line:col: path: message`` on stderr, one per line."""
    for problem in problems:
        print(problem, file=sys.stderr)
