"""Exact threshold arithmetic (docs/rules.md): every counting word at and around its boundary.

Civil Code Art. 1259: 以上/以下/不少于 include the number itself, 超过/不满/低于
exclude it. Each row of the §0 table is an integer test; ``threshold`` must agree
with it for every count, which the Hypothesis properties at the end check.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.guards.arithmetic import (
    FractionSyntaxError,
    compare,
    explain_threshold,
    parse_fraction,
    show_number,
    show_rounded,
    threshold,
)

HALF = Fraction(1, 2)
TWO_THIRDS = Fraction(2, 3)
FOUR_FIFTHS = Fraction(4, 5)
THREE_FIFTHS = Fraction(3, 5)


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(4, 10, False), (5, 10, False), (6, 10, True), (4, 9, False), (5, 9, True), (0, 0, False)],
)
def test_more_than_half(count: int, base: int, met: bool) -> None:
    """过半数 / 超过半数: more than half, 2k > N — exactly half is not enough."""
    assert threshold(count, "more_than", HALF, base).met is met


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(4, 10, False), (5, 10, True), (6, 10, True), (4, 9, False), (5, 9, True), (0, 0, True)],
)
def test_half_or_more(count: int, base: int, met: bool) -> None:
    """半数以上: half or more, 2k >= N — exactly half is enough."""
    assert threshold(count, "at_least", HALF, base).met is met


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(5, 9, False), (6, 9, True), (6, 10, False), (7, 10, True), (66, 100, False), (67, 100, True)],
)
def test_two_thirds_or_more(count: int, base: int, met: bool) -> None:
    """三分之二以上: at least two thirds, 3k >= 2N (6 of 10 is 18 < 20: not met)."""
    assert threshold(count, "at_least", TWO_THIRDS, base).met is met


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(7, 10, False), (8, 10, False), (9, 10, True), (397, 497, False), (398, 497, True)],
)
def test_more_than_four_fifths(count: int, base: int, met: bool) -> None:
    """超过五分之四: 5k > 4N; 4/5 of 497 is 397.6, so 398 is the first count that passes."""
    assert threshold(count, "more_than", FOUR_FIFTHS, base).met is met


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(7, 10, False), (8, 10, True), (9, 10, True), (397, 497, False), (398, 497, True)],
)
def test_at_least_four_fifths(count: int, base: int, met: bool) -> None:
    """不少于五分之四: 5k >= 4N; exactly 8 of 10 passes, 397 of 497 (< 397.6) does not."""
    assert threshold(count, "at_least", FOUR_FIFTHS, base).met is met


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(5, 10, True), (6, 10, False), (7, 10, False), (59, 100, True), (60, 100, False)],
)
def test_below_sixty_percent(count: int, base: int, met: bool) -> None:
    """低于60%: 5k < 3N — exactly 60 % is not below."""
    assert threshold(count, "less_than", THREE_FIFTHS, base).met is met


@pytest.mark.parametrize(
    ("count", "base", "met"),
    [(5, 10, True), (6, 10, True), (7, 10, False)],
)
def test_at_most_sixty_percent(count: int, base: int, met: bool) -> None:
    """以下 (at most): 5k <= 3N — exactly 60 % is included."""
    assert threshold(count, "at_most", THREE_FIFTHS, base).met is met


@pytest.mark.parametrize(
    ("candidates", "seats", "met"),
    [(8, 7, False), (9, 7, True), (5, 5, False), (6, 5, True), (1, 1, False), (2, 1, True)],
)
def test_candidate_margin_at_least_twenty_percent(candidates: int, seats: int, met: bool) -> None:
    """差额不少于20%: 5 × (candidates − seats) >= seats; 7 seats need 9 candidates (R6)."""
    assert threshold(candidates - seats, "at_least", Fraction(1, 5), seats).met is met


def test_outcome_keeps_the_bound_exact() -> None:
    """The bound is an exact fraction (4/5 × 497 = 1988/5), never a float."""
    outcome = threshold(398, "at_least", FOUR_FIFTHS, 497)
    assert outcome.bound == Fraction(1988, 5)
    assert outcome.inputs() == {
        "count": 398,
        "base": 497,
        "operator": "at_least",
        "fraction": "4/5",
        "bound": "1988/5",
    }


def test_explanation_names_counts_fraction_and_bound() -> None:
    """The explanation can be checked by hand: 398 present of 497 expected ≥ 4/5 (397.6): met."""
    met = threshold(398, "at_least", FOUR_FIFTHS, 497)
    missed = threshold(397, "at_least", FOUR_FIFTHS, 497)
    assert (
        explain_threshold(met, count_words="present", base_words="expected")
        == "398 present of 497 expected ≥ 4/5 (397.6): met"
    )
    assert (
        explain_threshold(missed, count_words="present", base_words="expected", label="到会")
        == "到会: 397 present of 497 expected ≥ 4/5 (397.6): not met"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(1988, 5), "397.6"),
        (Fraction(10), "10"),
        (Fraction(3, 4), "0.75"),
        (Fraction(1, 1024), "0.0009765625"),
        (Fraction(10**30 + 1, 2), "500000000000000000000000000000.5"),
        (Fraction(20, 3), "20/3 ≈ 6.67"),
        (Fraction(3200, 33), "3200/33 ≈ 96.97"),
    ],
)
def test_show_number_is_exact_when_the_decimal_terminates(value: Fraction, shown: str) -> None:
    """Terminating decimals are shown in full; others as p/q with a rounded reading."""
    assert show_number(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(3200, 33), "96.97"),
        (Fraction(1, 8), "0.13"),
        (Fraction(5, 8), "0.63"),
        (Fraction(-1, 8), "-0.13"),
        (Fraction(1, 3), "0.33"),
        (Fraction(2, 3), "0.67"),
        (Fraction(5), "5.00"),
        (Fraction(5, 1000) - Fraction(1, 10**40), "0.00"),
    ],
)
def test_display_rounding_is_half_up(value: Fraction, shown: str) -> None:
    """Scores round only for display: 2 places, half-up (0.125 → 0.13, not banker's 0.12)."""
    assert show_rounded(value) == shown


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1/2", HALF),
        ("2/3", TWO_THIRDS),
        (" 4/5 ", FOUR_FIFTHS),
        ("3", Fraction(3)),
        (2, Fraction(2)),
    ],
)
def test_parse_fraction_reads_p_over_q(text: str | int, value: Fraction) -> None:
    """Fractions are written p/q (or as a whole number) and read exactly."""
    assert parse_fraction(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1/0", "'1/0' has a zero denominator; a fraction p/q needs q > 0"),
        ("0.6", "'0.6' is not a fraction; write it as p/q, e.g. \"2/3\""),
        ("1/2/3", "'1/2/3' is not a fraction; write it as p/q, e.g. \"2/3\""),
        ("1_000/3", "'1_000/3' is not a fraction; write it as p/q, e.g. \"2/3\""),
        ("１/２", "'１/２' is not a fraction; write it as p/q, e.g. \"2/3\""),
        ("", "'' is not a fraction; write it as p/q, e.g. \"2/3\""),
    ],
)
def test_parse_fraction_refuses_anything_else(text: str, message: str) -> None:
    """Decimals, zero denominators and non-ASCII digits are refused, each with its reason."""
    with pytest.raises(FractionSyntaxError) as caught:
        parse_fraction(text)
    assert str(caught.value) == message


def test_parse_fraction_refuses_booleans() -> None:
    """true is not 1: a boolean where a fraction belongs is an error."""
    with pytest.raises(FractionSyntaxError) as caught:
        parse_fraction(True)
    assert str(caught.value) == "True is not a fraction"


counts = st.integers(min_value=0, max_value=10**12)
big = st.integers(min_value=-(10**30), max_value=10**30)


@given(k=big, n=big)
def test_property_more_than_half_is_2k_gt_n(k: int, n: int) -> None:
    """For all integers, ``more_than 1/2`` ⇔ 2k > N."""
    assert threshold(k, "more_than", HALF, n).met == (2 * k > n)


@given(k=big, n=big)
def test_property_half_or_more_is_2k_ge_n(k: int, n: int) -> None:
    """For all integers, ``at_least 1/2`` ⇔ 2k >= N."""
    assert threshold(k, "at_least", HALF, n).met == (2 * k >= n)


@given(k=big, n=big)
def test_property_two_thirds_is_3k_ge_2n(k: int, n: int) -> None:
    """For all integers, ``at_least 2/3`` ⇔ 3k >= 2N."""
    assert threshold(k, "at_least", TWO_THIRDS, n).met == (3 * k >= 2 * n)


@given(k=big, n=big)
def test_property_more_than_four_fifths_is_5k_gt_4n(k: int, n: int) -> None:
    """For all integers, ``more_than 4/5`` ⇔ 5k > 4N."""
    assert threshold(k, "more_than", FOUR_FIFTHS, n).met == (5 * k > 4 * n)


@given(k=big, n=big)
def test_property_at_least_four_fifths_is_5k_ge_4n(k: int, n: int) -> None:
    """For all integers, ``at_least 4/5`` ⇔ 5k >= 4N."""
    assert threshold(k, "at_least", FOUR_FIFTHS, n).met == (5 * k >= 4 * n)


@given(k=big, n=big)
def test_property_below_three_fifths_is_5k_lt_3n(k: int, n: int) -> None:
    """For all integers, ``less_than 3/5`` ⇔ 5k < 3N."""
    assert threshold(k, "less_than", THREE_FIFTHS, n).met == (5 * k < 3 * n)


@given(
    k=big,
    n=big,
    p=st.integers(min_value=1, max_value=1000),
    q=st.integers(min_value=1, max_value=1000),
)
def test_property_every_operator_is_the_cross_multiplied_integer_test(
    k: int, n: int, p: int, q: int
) -> None:
    """For any fraction p/q: k op (p/q)·N ⇔ q·k op p·N, for each operator."""
    fraction = Fraction(p, q)
    assert threshold(k, "more_than", fraction, n).met == (q * k > p * n)
    assert threshold(k, "at_least", fraction, n).met == (q * k >= p * n)
    assert threshold(k, "less_than", fraction, n).met == (q * k < p * n)
    assert threshold(k, "at_most", fraction, n).met == (q * k <= p * n)


@given(k=counts, n=counts)
def test_property_operators_pair_up_as_complements(k: int, n: int) -> None:
    """at_least is the negation of less_than, and more_than of at_most, at every boundary."""
    bound = FOUR_FIFTHS * n
    assert compare(k, "at_least", bound) != compare(k, "less_than", bound)
    assert compare(k, "more_than", bound) != compare(k, "at_most", bound)


@given(seats=st.integers(min_value=1, max_value=10**6), candidates=st.integers(0, 2 * 10**6))
def test_property_margin_matches_the_ceiling_rule(seats: int, candidates: int) -> None:
    """R6: a 20 % margin holds exactly when candidates >= seats + ceil(seats / 5)."""
    met = threshold(candidates - seats, "at_least", Fraction(1, 5), seats).met
    assert met == (candidates >= seats + ceil(Fraction(seats, 5)))


@given(
    numerator=st.integers(min_value=-(10**40), max_value=10**40),
    denominator=st.integers(min_value=1, max_value=10**40),
)
def test_property_display_rounding_is_exact_half_up(numerator: int, denominator: int) -> None:
    """show_rounded agrees with integer half-up rounding for any size of fraction."""
    value = Fraction(numerator, denominator)
    hundredths = abs(value) * 100
    expected = int(hundredths) + (1 if hundredths - int(hundredths) >= HALF else 0)
    shown = show_rounded(value)
    assert Fraction(shown.lstrip("-")) == Fraction(expected, 100)
    assert shown.startswith("-") == (value < 0 and expected != 0)
    assert len(shown.rpartition(".")[2]) == 2


@given(
    numerator=st.integers(min_value=-(10**40), max_value=10**40),
    twos=st.integers(min_value=0, max_value=120),
    fives=st.integers(min_value=0, max_value=60),
)
def test_property_terminating_decimals_are_shown_exactly(
    numerator: int, twos: int, fives: int
) -> None:
    """A fraction whose denominator is 2^a·5^b is shown as a decimal equal to it exactly."""
    value = Fraction(numerator, 2**twos * 5**fives)
    assert Fraction(show_number(value)) == value


fractions = st.builds(
    Fraction, st.integers(min_value=-(10**6), max_value=10**6), st.integers(1, 10**6)
)
operators = st.sampled_from(["more_than", "at_least", "less_than", "at_most"])


@given(k=big, n=big, fraction=fractions, operator=operators)
def test_property_integer_threshold_agrees_with_fraction_arithmetic(
    k: int, n: int, fraction: Fraction, operator: Any
) -> None:
    """Rule: ``threshold`` on integers (done in integers for speed) gives the verdict and
    the reduced bound that ``Fraction`` arithmetic gives, so explanations are unchanged."""
    outcome = threshold(k, operator, fraction, n)
    bound = fraction * n
    assert outcome.met == compare(k, operator, bound)
    assert (outcome.bound.numerator, outcome.bound.denominator) == (
        bound.numerator,
        bound.denominator,
    )
