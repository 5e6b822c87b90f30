"""Hypothesis strategies for governance inputs: candidate lists, anonymous ballots, layers."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from engine.governance.ballots import Ballot
from engine.governance.scoring import LayerCount, LayerRule

NAMES = ("甲", "乙", "丙", "丁", "戊", "己", "庚")


@st.composite
def elections(draw: st.DrawFn) -> tuple[tuple[str, ...], int, list[Ballot], int]:
    """(candidates, seats, ballots, voters) with returned ≤ voters, any marks (R13–R15)."""
    candidates = tuple(draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True)))
    seats = draw(st.integers(min_value=1, max_value=len(candidates)))
    ballots = draw(st.lists(ballots_for(candidates), max_size=30))
    voters = len(ballots) + draw(st.integers(min_value=0, max_value=5))
    return candidates, seats, ballots, voters


def ballots_for(candidates: tuple[str, ...]) -> st.SearchStrategy[Ballot]:
    """One ballot: each candidate approved, disapproved or left blank."""

    def build(marks: list[str]) -> Ballot:
        pairs = list(zip(candidates, marks, strict=True))
        return Ballot(
            approve=tuple(c for c, m in pairs if m == "approve"),
            disapprove=tuple(c for c, m in pairs if m == "disapprove"),
        )

    mark = st.sampled_from(("approve", "disapprove", "abstain"))
    return st.lists(mark, min_size=len(candidates), max_size=len(candidates)).map(build)


@st.composite
def layered(draw: st.DrawFn) -> tuple[tuple[LayerRule, ...], dict[str, LayerCount]]:
    """Layers whose weights sum to 9/10 (trust weighs 1/10) and one candidate's counts."""
    size = draw(st.integers(min_value=1, max_value=5))
    cuts = sorted(draw(st.lists(st.integers(0, 90), min_size=size - 1, max_size=size - 1)))
    bounds = [0, *cuts, 90]
    weights = [Fraction(bounds[i + 1] - bounds[i], 100) for i in range(size)]
    rules = tuple(LayerRule(layer=f"L{i}", weight=w) for i, w in enumerate(weights))
    counts: dict[str, LayerCount] = {}
    for rule in rules:
        cast = draw(st.integers(min_value=1, max_value=500))
        counts[rule.layer] = LayerCount(yes=draw(st.integers(0, cast)), ballots_cast=cast)
    cast = draw(st.integers(min_value=1, max_value=500))
    counts["trust"] = LayerCount(yes=draw(st.integers(0, cast)), ballots_cast=cast)
    return rules, counts
