"""Top-N selection and ties at the cut-off (R17, §3)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.governance.ranking import rank_top


@pytest.mark.parametrize(
    ("scores", "places", "rule", "selected", "tied"),
    [
        ([("a", 3), ("b", 2), ("c", 1)], 2, "revote", ("a", "b"), ()),
        ([("a", 3), ("b", 2), ("c", 2)], 2, "revote", ("a",), ("b", "c")),
        ([("a", 3), ("b", 2), ("c", 2)], 2, "admit_all", ("a", "b", "c"), ()),
        ([("a", 2), ("b", 2)], 2, "revote", ("a", "b"), ()),
        ([("a", Fraction(1, 3)), ("b", Fraction(2, 6))], 1, "revote", (), ("a", "b")),
        ([("a", 1)], 0, "revote", (), ()),
    ],
)
def test_rank_top(
    scores: list[tuple[str, int | Fraction]],
    places: int,
    rule: str,
    selected: tuple[str, ...],
    tied: tuple[str, ...],
) -> None:
    """A tie is only a tie when it crosses the cut-off; exact fractions compare exactly."""
    ranked = rank_top(scores, places, rule)  # type: ignore[arg-type]
    assert (ranked.selected, ranked.tied) == (selected, tied)
