"""Ballot piles in tally_round and the plurality kind (a top-N vote without R16)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.actions.registry import ActionFailed, default_registry
from engine.governance.ballots import Ballot, tally_round


class Ctx:
    """Evaluates the two expressions the tests use, by lookup."""

    def __init__(self, ballots: list[Any]) -> None:
        self.data: dict[str, Any] = {}
        self.values = {"payload.ballots": ballots, "data.candidates": ["甲", "乙"]}

    def evaluate(self, expression: str) -> Any:
        return self.values[expression]


def _tally(ballots: list[Any], **params: Any) -> Any:
    spec = default_registry()["tally_round"]
    base = {"candidates": "data.candidates", "seats": 1, "ballots": "payload.ballots",
            "voters": 10, "into": "data.r"}  # fmt: skip
    return spec.run({**base, **params}, Ctx(ballots))


def test_a_pile_counts_as_that_many_identical_ballots() -> None:
    """{"count": n, "marks": …} equals n separate ballots, each judged on its own (R15)."""
    piles = [
        {"count": 6, "marks": {"甲": "approve", "乙": "disapprove"}},
        {"count": 2, "marks": {"甲": "approve", "乙": "approve"}},  # 2 approvals for 1 seat
        {"count": 1, "marks": {}},
    ]
    spread = (
        [{"marks": {"甲": "approve", "乙": "disapprove"}}] * 6
        + [{"marks": {"甲": "approve", "乙": "approve"}}] * 2
        + [{"marks": {}}]
    )

    by_pile, by_ballot = _tally(piles), _tally(spread)

    assert by_pile == by_ballot
    assert (by_pile["returned"], by_pile["valid"], by_pile["invalid"], by_pile["blank"]) == (
        9,
        7,
        2,
        1,
    )


def test_a_pile_with_a_bad_count_is_refused() -> None:
    """A negative or non-integer count is refused with the reason."""
    with pytest.raises(ActionFailed):
        _tally([{"count": -1, "marks": {}}])
    with pytest.raises(ActionFailed):
        _tally([{"count": "3", "marks": {}}])


def test_piles_can_make_a_round_void() -> None:
    """R14: piles adding up to more ballots than voters void the round."""
    out = _tally([{"count": 11, "marks": {"甲": "approve"}}])
    assert out["status"] == "void"


def test_plurality_takes_the_top_n_without_a_majority() -> None:
    """plurality: 3 of 10 approvals elects when it is among the top N; no R16 threshold."""
    ballots = [Ballot(approve=("甲",))] * 3 + [Ballot(approve=("乙",))] * 2 + [Ballot()] * 5
    result = tally_round(candidates=["甲", "乙", "丙"], seats=1, ballots=ballots, voters=10,
                         kind="plurality")  # fmt: skip

    assert (result.status, result.elected) == ("complete", ("甲",))
    assert result.record()["threshold"]["fraction"] == "0"
    assert any("按得票多少" in line for line in result.explanation)


def test_plurality_sends_a_tie_at_the_cut_off_to_a_revote() -> None:
    """plurality: a tie at the last place leaves those tied for a re-vote (R17)."""
    ballots = [Ballot(approve=("甲", "乙"))] * 4 + [Ballot(approve=("甲", "丙"))] * 4
    result = tally_round(candidates=["甲", "乙", "丙"], seats=2, ballots=ballots, voters=8,
                         kind="plurality")  # fmt: skip

    assert (result.status, result.elected, result.tied, result.tie_places) == (
        "tie", ("甲",), ("乙", "丙"), 1,
    )  # fmt: skip


def test_plurality_ignores_write_ins() -> None:
    """plurality: only the listed names stand, as in a re-vote or a further round."""
    ballots = [Ballot(write_ins=("丁",))] * 5
    result = tally_round(candidates=["甲", "乙"], seats=1, ballots=ballots, voters=5,
                         kind="plurality", write_ins="allowed")  # fmt: skip

    assert result.ignored_write_ins == 5
    assert "丁" not in result.votes()


def test_rank_lists_equal_scores_the_same_whatever_the_map_order() -> None:
    """rank: a map from CEL has no stable order, so ties are listed by name (replayable)."""
    spec = default_registry()["rank"]

    class Votes:
        def __init__(self, votes: dict[str, int]) -> None:
            self.data: dict[str, Any] = {}
            self.votes = votes

        def evaluate(self, expression: str) -> Any:
            return self.votes

    params = {"scores": "payload.votes", "top": 1, "into": "data.r"}
    one = spec.run(params, Votes({"乙": 3, "甲": 3, "丙": 1}))
    other = spec.run(params, Votes({"丙": 1, "甲": 3, "乙": 3}))

    assert one == other
    assert one["tied"] == sorted(["乙", "甲"])
