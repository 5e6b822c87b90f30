"""ISO 8601 periods (``P7D``, ``PT48H``) in plain words, for descriptions and diagrams.

Deadlines are written as ISO 8601 durations; people reading a description or a
diagram should not have to decode ``P1W3D``. This module only words a period;
it never computes dates (that is the runtime clock's job, on the official
calendar).
"""

from __future__ import annotations

import re

_PERIOD = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


def period_words(period: str, days: str = "calendar") -> str:
    """Say an ISO 8601 period in words.

    Args:
        period: an ISO 8601 duration such as ``P7D``, ``P1W``, ``PT48H``.
        days: ``"calendar"`` or ``"working"``: how days (and weeks) are counted.

    Returns:
        For example ``"7 calendar days"``, ``"5 working days"``, ``"48 hours"``,
        ``"1 month and 2 calendar days"``. A text that is not an ISO 8601
        period (the schema check refuses those) is returned unchanged.
    """
    match = _PERIOD.match(period)
    if match is None:
        return period
    parts: list[str] = []
    for unit in _UNITS:
        raw = match.group(unit)
        if raw is None:
            continue
        amount = int(raw)
        name = unit if amount != 1 else unit[:-1]
        if unit in ("weeks", "days"):
            name = f"{days} {name}"
        parts.append(f"{amount} {name}")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
