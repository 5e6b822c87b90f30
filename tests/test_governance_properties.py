"""Properties of ballot rounds and scoring that must hold for any input (R13–R17, §3)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import elections, layered

from engine.governance.ballots import Ballot, RoundResult, tally_round
from engine.governance.scoring import LayerCount, LayerRule, ScoringRule, score

Election = tuple[tuple[str, ...], int, list[Ballot], int]


def _tally(
    candidates: tuple[str, ...], seats: int, ballots: list[Ballot], voters: int
) -> RoundResult:
    return tally_round(candidates=candidates, seats=seats, ballots=ballots, voters=voters)


@given(elections(), st.data())
def test_adding_an_approval_never_unelects_that_candidate(
    election: Election, data: st.DataObject
) -> None:
    """R16–R17: one more approval for c, on a ballot that stays valid, never un-elects c."""
    candidates, seats, ballots, voters = election
    before = _tally(candidates, seats, ballots, voters)
    open_ballots = [
        i
        for i, b in enumerate(ballots)
        if len(b.approve) < seats and len(b.approve) < len(candidates)
    ]
    if not open_ballots:
        return
    index = data.draw(st.sampled_from(open_ballots))
    ballot = ballots[index]
    name = data.draw(st.sampled_from([c for c in candidates if c not in ballot.approve]))
    changed = Ballot(
        approve=(*ballot.approve, name),
        disapprove=tuple(n for n in ballot.disapprove if n != name),
    )
    after = _tally(candidates, seats, [*ballots[:index], changed, *ballots[index + 1 :]], voters)
    if name in before.elected:
        assert name in after.elected
    assert after.votes()[name] == before.votes()[name] + 1


@given(elections(), st.data())
def test_an_over_approved_ballot_changes_no_count(election: Election, data: st.DataObject) -> None:
    """R15: adding a ballot approving more names than seats changes no candidate's count."""
    candidates, seats, ballots, voters = election
    if seats >= len(candidates):
        return
    extra = data.draw(st.integers(min_value=seats + 1, max_value=len(candidates)))
    bad = Ballot(approve=candidates[:extra])
    before = _tally(candidates, seats, ballots, voters + 1)
    after = _tally(candidates, seats, [*ballots, bad], voters + 1)
    assert [c.record() for c in after.counts] == [c.record() for c in before.counts]
    assert after.elected == before.elected
    assert after.tied == before.tied
    assert after.invalid == before.invalid + 1


@given(elections(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_ballot_order(election: Election, rng: object) -> None:
    """R12: ballots are an unordered, anonymous pile: shuffling changes nothing."""
    candidates, seats, ballots, voters = election
    shuffled = list(ballots)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    before = _tally(candidates, seats, ballots, voters).record()
    after = _tally(candidates, seats, shuffled, voters).record()
    assert after == before


@given(layered(), st.randoms(use_true_random=False))
def test_composite_is_invariant_to_layer_order(
    case: tuple[tuple[LayerRule, ...], dict[str, LayerCount]], rng: object
) -> None:
    """§3: Σ weight × rate is exact, so listing the layers in any order gives the same score."""
    rules, counts = case
    shuffled = list(rules)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    first = score(ScoringRule(name="a", layers=rules, top=1), {"x": counts})
    second = score(ScoringRule(name="b", layers=tuple(shuffled), top=1), {"x": counts})
    assert first.scores[0].composite == second.scores[0].composite
