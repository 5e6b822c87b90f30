"""§4 and §5 meeting thresholds at and around each boundary, in exact arithmetic."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.guards.arithmetic import threshold

HALF, TWO_THIRDS = Fraction(1, 2), Fraction(2, 3)

CASES = [
    # §4 step 1/3 quorum: half or more (2k >= N)
    ("§4 支委会/党员大会 quorum", 4, "at_least", HALF, 9, False),
    ("§4 支委会/党员大会 quorum", 5, "at_least", HALF, 10, True),
    ("§4 支委会/党员大会 quorum", 5, "at_least", HALF, 9, True),
    # §4 step 3 adoption: yes > half of expected (2*yes > N)
    ("§4 党员大会 adoption", 5, "more_than", HALF, 10, False),
    ("§4 党员大会 adoption", 6, "more_than", HALF, 10, True),
    # §4 step 4 quorum: at least 2/3 (3k >= 2N)
    ("§4 村民代表会议 quorum", 19, "at_least", TWO_THIRDS, 30, False),
    ("§4 村民代表会议 quorum", 20, "at_least", TWO_THIRDS, 30, True),
    ("§4 村民代表会议 quorum", 14, "at_least", TWO_THIRDS, 21, True),
    # §5 joint meeting: party members more than half (2k > N), representatives >= 2/3
    ("§5 党员 quorum", 15, "more_than", HALF, 30, False),
    ("§5 党员 quorum", 16, "more_than", HALF, 30, True),
    ("§5 代表 quorum", 19, "at_least", TWO_THIRDS, 29, False),
    ("§5 代表 quorum", 20, "at_least", TWO_THIRDS, 30, True),
    # §5 decisions: yes > half of those present
    ("§5 decision", 10, "more_than", HALF, 20, False),
    ("§5 decision", 11, "more_than", HALF, 20, True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[1]}/{c[4]}" for c in CASES])
def test_meeting_thresholds(case: tuple[str, int, str, Fraction, int, bool]) -> None:
    """Each §4/§5 threshold: exactly at the bound, one below and one above."""
    rule, k, operator, fraction, n, met = case
    assert threshold(k, operator, fraction, n).met is met, rule  # type: ignore[arg-type]
