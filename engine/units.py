"""Organisational units (县/镇/村) as paths, and which unit a scope covers.

A unit is written as its path from the top, its parts joined by ``/``:
``柳河县/城关镇/柳树村``. A scope covers a unit when it is that unit or one of its
ancestors, so a token for ``柳河县/城关镇`` covers every village of the town and
nothing of a neighbouring town. Comparison is by whole parts: ``柳河县/城关`` does
not cover ``柳河县/城关镇``. The empty text stands for "no unit": a case opened
without one belongs to no unit, and only an unrestricted scope covers it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from engine.errors import InvalidUnit as InvalidUnit

MAX_UNIT_LENGTH = 200
"""The longest unit path accepted, in characters."""
MAX_UNIT_DEPTH = 8
"""The most parts a unit path may have (province down to group is fewer)."""


def check_unit(text: str) -> str:
    """``text`` as a unit path, checked.

    Args:
        text: a path such as ``柳河县/城关镇/柳树村`` (``""`` for no unit).

    Returns:
        The same text.

    Raises:
        InvalidUnit: saying what is wrong with it.
    """
    if text == "":
        return text
    if len(text) > MAX_UNIT_LENGTH:
        raise InvalidUnit(f"a unit path has at most {MAX_UNIT_LENGTH} characters")
    parts = text.split("/")
    if len(parts) > MAX_UNIT_DEPTH:
        raise InvalidUnit(f"a unit path has at most {MAX_UNIT_DEPTH} parts (县/镇/村)")
    for part in parts:
        if not part or part != part.strip():
            raise InvalidUnit(
                f"unit {text!r}: every part between '/' must be a name without surrounding "
                "spaces, such as 柳河县/城关镇/柳树村"
            )
        if any(unicodedata.category(c)[0] in ("C", "Z") and c != " " for c in part):
            raise InvalidUnit(f"unit {text!r}: a part holds a control or separator character")
    return text


def covers(scope: str, unit: str) -> bool:
    """Whether a scope unit covers ``unit``: the same unit, or one of its ancestors."""
    if scope == "":
        return False
    return unit == scope or unit.startswith(scope + "/")


def covered(scopes: Iterable[str] | None, unit: str) -> bool:
    """Whether any of ``scopes`` covers ``unit``; ``None`` means unrestricted (all units)."""
    if scopes is None:
        return True
    return any(covers(scope, unit) for scope in scopes)
