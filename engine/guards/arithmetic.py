"""Exact threshold arithmetic and its explanation in words (docs/rules.md, counting words).

Every governance threshold is ``count <operator> fraction × base`` with an
explicit operator. Comparing a ``Fraction`` with an integer is exact, so
``more_than 1/2`` is the same test as ``2*k > N`` and ``at_least 4/5`` the same
as ``5*k >= 4*N``; floats never appear. Bounds are shown as exact decimals when
they terminate (397.6) and as a fraction with a rounded reading otherwise
(20/3 ≈ 6.67), rounding half-up only for display.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import gcd
from operator import ge, gt, le, lt
from typing import Any, Literal

from engine.errors import FractionSyntaxError as FractionSyntaxError

Operator = Literal["more_than", "at_least", "less_than", "at_most"]
OPERATORS: tuple[Operator, ...] = ("more_than", "at_least", "less_than", "at_most")

SYMBOLS: dict[str, str] = {"more_than": ">", "at_least": "≥", "less_than": "<", "at_most": "≤"}
WORDS: dict[str, str] = {
    "more_than": "more than",
    "at_least": "at least",
    "less_than": "less than",
    "at_most": "at most",
}


# ASCII digits only: int() would also take "1_000" and full-width "１/２".
_FRACTION = re.compile(r"(-?[0-9]+)(?:/([0-9]+))?")


def parse_fraction(text: str | int) -> Fraction:
    """Read ``"2/3"`` (or an integer) as an exact fraction.

    Raises:
        FractionSyntaxError: for decimals, zero denominators and anything else.
    """
    if isinstance(text, bool):
        raise FractionSyntaxError(f"{text!r} is not a fraction")
    if isinstance(text, int):
        return Fraction(text)
    raw = text.strip()
    match = _FRACTION.fullmatch(raw)
    if match is None:
        raise FractionSyntaxError(f'{raw!r} is not a fraction; write it as p/q, e.g. "2/3"')
    numerator, denominator = match.group(1), match.group(2)
    if denominator is None:
        return Fraction(int(numerator))
    if int(denominator) == 0:
        raise FractionSyntaxError(f"{raw!r} has a zero denominator; a fraction p/q needs q > 0")
    return Fraction(int(numerator), int(denominator))


def compare(count: int, operator: Operator, bound: Fraction) -> bool:
    """``count <operator> bound``, exactly."""
    if operator == "more_than":
        return count > bound
    if operator == "at_least":
        return count >= bound
    if operator == "less_than":
        return count < bound
    return count <= bound


# Decimal division rounds to the context's 28 digits, so both functions below work
# in integers: every digit they show is exact, however large the counts.


def _with_point(scaled: int, places: int) -> str:
    """``scaled / 10**places`` written out exactly: (-3976, 1) → ``-397.6``."""
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    if places == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def show_number(value: Fraction) -> str:
    """Exact decimal when it terminates, else ``p/q ≈ x.xx`` (half-up, display only)."""
    return show_ratio(value.numerator, value.denominator)


@lru_cache(maxsize=4096)
def show_ratio(numerator: int, denominator: int) -> str:
    """``show_number`` of the reduced fraction ``numerator/denominator`` (denominator > 0).

    Guards call this with the integers they already hold, so no ``Fraction`` is built
    on the hot path; the text is the same. A procedure's bounds repeat (5/2 of a
    five-member committee at every meeting), so recent texts are kept (bounded).
    """
    if denominator == 1:
        return str(numerator)
    twos = fives = 0
    rest = denominator
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest == 1:
        places = max(twos, fives)
        return _with_point(numerator * 10**places // denominator, places)
    return f"{numerator}/{denominator} ≈ {_rounded(numerator, denominator, 2)}"


def show_rounded(value: Fraction, places: int = 2) -> str:
    """Round half-up (ties away from zero) for display only: 3200/33 → 96.97, 1/8 → 0.13."""
    return _rounded(value.numerator, value.denominator, places)


def _rounded(numerator: int, denominator: int, places: int) -> str:
    quotient, remainder = divmod(abs(numerator) * 10**places, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return _with_point(-quotient if numerator < 0 else quotient, places)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdOutcome:
    """The result of one threshold test, with everything needed to check it by hand."""

    count: int
    base: int
    operator: Operator
    fraction: Fraction
    bound: Fraction
    met: bool

    def inputs(self) -> dict[str, Any]:
        """JSON-ready inputs for the audit record (fractions as exact strings)."""
        return {
            "count": self.count,
            "base": self.base,
            "operator": self.operator,
            "fraction": f"{self.fraction.numerator}/{self.fraction.denominator}",
            "bound": f"{self.bound.numerator}/{self.bound.denominator}",
        }


_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "more_than": gt,
    "at_least": ge,
    "less_than": lt,
    "at_most": le,
}


@dataclass(frozen=True, slots=True)
class Bound:
    """``count <operator> p/q × base`` for one operator and fraction, prepared once.

    The test is integer cross-multiplication, ``q·count <op> p·base`` (``q > 0``), the
    same verdict as comparing with ``Fraction(p, q) * base``; ``bound`` gives that
    product reduced, as the record writes it.
    """

    operator: Operator
    numerator: int
    denominator: int
    compare: Callable[[int, int], bool]

    @classmethod
    def of(cls, operator: Operator, fraction: Fraction) -> Bound:
        """The bound ``operator fraction``."""
        return cls(operator, fraction.numerator, fraction.denominator, _COMPARE[operator])

    @property
    def fraction_text(self) -> str:
        """``p/q`` as the record writes it."""
        return f"{self.numerator}/{self.denominator}"

    def met(self, count: int, base: int) -> bool:
        """``count <operator> p/q × base``, exactly."""
        return self.compare(self.denominator * count, self.numerator * base)

    def bound(self, base: int) -> tuple[int, int]:
        """``p/q × base`` reduced: (numerator, denominator > 0)."""
        scaled = self.numerator * base
        divisor = gcd(scaled, self.denominator)
        return scaled // divisor, self.denominator // divisor


def threshold(count: int, operator: Operator, fraction: Fraction, base: int) -> ThresholdOutcome:
    """Test ``count <operator> fraction × base``.

    With integer counts (every caller's) the test is ``count × q <operator> p × base``
    for ``fraction = p/q`` (``q > 0``): the same verdict and the same reduced bound as
    ``Fraction`` arithmetic, at a fraction of its cost on every guard of every event.
    """
    if type(count) is not int or type(base) is not int:
        bound = fraction * base
        met = compare(count, operator, bound)
    else:
        scaled, denominator = fraction.numerator * base, fraction.denominator
        bound = Fraction(scaled, denominator)
        scaled_count = count * denominator
        if operator == "more_than":
            met = scaled_count > scaled
        elif operator == "at_least":
            met = scaled_count >= scaled
        elif operator == "less_than":
            met = scaled_count < scaled
        else:
            met = scaled_count <= scaled
    return ThresholdOutcome(
        count=count, base=base, operator=operator, fraction=fraction, bound=bound, met=met
    )


def explain_threshold(
    outcome: ThresholdOutcome, *, count_words: str, base_words: str, label: str = ""
) -> str:
    """``398 present of 497 expected ≥ 4/5 (397.6): met``."""
    verdict = "met" if outcome.met else "not met"
    fraction = outcome.fraction
    counted = f"{outcome.count} {count_words}" if count_words else str(outcome.count)
    text = (
        f"{counted} of {outcome.base} {base_words} "
        f"{SYMBOLS[outcome.operator]} {fraction.numerator}/{fraction.denominator} "
        f"({show_number(outcome.bound)}): {verdict}"
    )
    return f"{label}: {text}" if label else text
