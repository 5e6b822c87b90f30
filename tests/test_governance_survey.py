"""Satisfaction surveys and the 60 % bar (docs/rules.md, 两村两会)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.governance.errors import GovernanceError
from engine.governance.survey import SurveyCounts, satisfaction


@pytest.mark.parametrize(
    ("k", "n", "below"),
    [(59, 100, True), (60, 100, False), (61, 100, False), (2, 5, True), (3, 5, False)],
)
def test_below_60_percent_exactly_60_is_not_barred(k: int, n: int, below: bool) -> None:
    """§5: below 60 % is 5k < 3N; exactly 60 % is not barred."""
    result = satisfaction(SurveyCounts(issued=n, returned=n, valid=n, satisfied=k))
    assert result.below_60 is below
    assert result.record()["barred_from_awards"] is below


def test_declared_numerator_and_denominator() -> None:
    """§5: 满意 only vs 满意+基本满意, and valid vs issued, change the rate."""
    counts = SurveyCounts(issued=100, returned=90, valid=80, satisfied=40, basically_satisfied=10)
    assert satisfaction(counts).rate == Fraction(50, 80)
    assert satisfaction(counts, numerator="satisfied").below_60
    assert not satisfaction(counts, base="valid").below_60
    assert satisfaction(counts, base="issued").below_60
    assert satisfaction(counts, base="issued").record()["percent_display"] == "50.00"


def test_impossible_counts_are_refused() -> None:
    """§5: answers cannot exceed valid forms, nor valid exceed returned or issued."""
    with pytest.raises(GovernanceError):
        SurveyCounts(issued=10, returned=11, valid=5, satisfied=1)
    with pytest.raises(GovernanceError):
        satisfaction(SurveyCounts(issued=0, returned=0, valid=0, satisfied=0))
