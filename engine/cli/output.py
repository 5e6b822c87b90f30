"""Shared output helpers for commands: one console, located problems on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from engine.errors import Problem

if TYPE_CHECKING:
    from rich.console import Console


def console() -> Console:
    """The console commands print tables to (rich is imported on first use).

    The width is decided on each call, from where standard output goes now and the
    terminal's (or ``COLUMNS``') width, so a host that runs several commands in one
    process never prints at an earlier command's width.
    """
    import shutil

    # Piped output (CI logs, files) gets room for the tables' Chinese labels and
    # explanations instead of rich's default of 80 columns.
    width = None if sys.stdout.isatty() else max(shutil.get_terminal_size().columns, 150)
    return _console(width, os.environ.get("COLUMNS"))


@cache
def _console(width: int | None, columns: str | None) -> Console:
    """One console per width (``columns``: rich reads ``COLUMNS`` when it is built)."""
    from rich.console import Console

    del columns  # part of the cache key only
    return Console(highlight=False, width=width)


def print_problems(problems: Iterable[Problem]) -> None:
    """Print problems as ``file:line:col: path: message`` on stderr, one per line."""
    for problem in problems:
        print(problem, file=sys.stderr)
