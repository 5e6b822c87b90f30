"""三票制 layered scoring (docs/rules.md, 三票制): exact rates, weights, trust gate, ties, rules."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.governance.errors import GovernanceError
from engine.governance.scoring import (
    SEED_RULE,
    LayerCount,
    LayerRule,
    ScoringRule,
    TrustRule,
    compare_rules,
    layer_rate,
    score,
)
from engine.guards.arithmetic import show_rounded


def _layers(trust: LayerCount, a: int = 20) -> dict[str, LayerCount]:
    return {
        "A": LayerCount(yes=a, ballots_cast=30),
        "B": LayerCount(yes=10, ballots_cast=20),
        "C": LayerCount(yes=50, ballots_cast=60),
        "D": LayerCount(yes=5, ballots_cast=9),
        "trust": trust,
    }


def test_seed_puzzle_32_of_33_against_19_of_19() -> None:
    """§3: the seed's trust vote: 32 of 33 = 96.97 while 19 of 19 = 100.00."""
    assert show_rounded(layer_rate(LayerCount(yes=32, ballots_cast=33), "ballots_cast")) == "96.97"
    assert show_rounded(layer_rate(LayerCount(yes=19, ballots_cast=19), "ballots_cast")) == "100.00"
    assert layer_rate(LayerCount(yes=32, ballots_cast=33), "ballots_cast") == Fraction(3200, 33)


def test_alternative_denominator_reverses_the_puzzle() -> None:
    """§3: the same ballots over the roster (40 and 25 staff) rank 黄钰 first."""
    ballots = {
        "黄钰": _layers(LayerCount(yes=32, ballots_cast=33, roster=40)),
        "任参": _layers(LayerCount(yes=19, ballots_cast=19, roster=25)),
    }
    roster_rule = ScoringRule(
        name="roster", layers=SEED_RULE.layers, trust=TrustRule(denominator="roster"), top=1
    )
    seed_rule = ScoringRule(name="seed", layers=SEED_RULE.layers, top=1)
    seed, by_roster = compare_rules([seed_rule, roster_rule], ballots)
    assert seed.selected == ("任参",)
    assert by_roster.selected == ("黄钰",)


@pytest.mark.parametrize(
    ("weights", "ok"),
    [
        (("3/10", "2/10", "2/10", "2/10"), True),
        (("3/10", "2/10", "2/10", "1/10"), False),
        (("3/10", "3/10", "2/10", "2/10"), False),
    ],
)
def test_weights_must_sum_to_exactly_one(weights: tuple[str, ...], ok: bool) -> None:
    """§3: with the 1/10 trust weight the layer weights must make exactly 1."""
    layers = tuple(
        LayerRule(layer=n, weight=Fraction(w)) for n, w in zip("ABCD", weights, strict=True)
    )
    if ok:
        ScoringRule(name="r", layers=layers)
    else:
        with pytest.raises(GovernanceError) as caught:
            ScoringRule(name="r", layers=layers)
        assert "not exactly 1" in str(caught.value)


@pytest.mark.parametrize(
    ("yes", "cast", "passes"), [(9, 20, False), (10, 20, True), (11, 20, True), (10, 21, False)]
)
def test_trust_gate_half_or_more(yes: int, cast: int, passes: bool) -> None:
    """§3: the trust gate is ≥ 1/2: exactly half continues."""
    result = score(SEED_RULE, {"x": _layers(LayerCount(yes=yes, ballots_cast=cast))})
    assert (result.gated_out == ()) is passes


@pytest.mark.parametrize(("tie_rule", "selected", "tied"), [("revote", 1, 2), ("admit_all", 3, 0)])
def test_tie_at_the_cut_off(tie_rule: str, selected: int, tied: int) -> None:
    """§3/R17: a tie at 2nd place: re-vote among the tied, or admit all of them."""
    same = LayerCount(yes=10, ballots_cast=10)
    ballots = {
        "a": _layers(same, a=30),
        "b": _layers(same),
        "c": _layers(same),
    }
    rule = ScoringRule(name="r", layers=SEED_RULE.layers, top=2, tie_rule=tie_rule)  # type: ignore[arg-type]
    result = score(rule, ballots)
    assert (len(result.selected), len(result.tied)) == (selected, tied)


def test_composite_is_exact() -> None:
    """§0: the composite is Σ weight × rate as an exact fraction."""
    result = score(SEED_RULE, {"x": _layers(LayerCount(yes=32, ballots_cast=33))})
    expected = (
        Fraction(3, 10) * Fraction(200, 3)
        + Fraction(1, 5) * 50
        + Fraction(1, 5) * Fraction(250, 3)
        + Fraction(1, 5) * Fraction(500, 9)
        + Fraction(1, 10) * Fraction(3200, 33)
    )
    assert result.scores[0].composite == expected


def test_missing_denominator_is_refused() -> None:
    """§3: a rule over the roster needs the roster count recorded."""
    rule = ScoringRule(name="r", layers=SEED_RULE.layers, trust=TrustRule(denominator="roster"))
    with pytest.raises(GovernanceError):
        score(rule, {"x": _layers(LayerCount(yes=1, ballots_cast=2))})
