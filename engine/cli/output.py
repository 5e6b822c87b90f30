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
    from rich.console import Console

    return Console(highlight=False)


def print_problems(problems: Iterable[Problem]) -> None:
    """Print problems as ``file:line:col: path: message`` on stderr, one per line."""
    for problem in problems:
        print(problem, file=sys.stderr)
