"""Satisfaction surveys with a declared numerator and denominator (docs/rules.md, 两村两会).

The rate is ``numerator ÷ denominator`` as an exact ``Fraction``; which answers
count as satisfied (满意 only, or 满意 + 基本满意) and what the rate is of (forms
issued, returned, or valid) are declared choices, recorded with the result.
"Below 60 %" (低于60%) bars the secretary and director from next year's awards and
is tested as ``5*k < 3*N``: exactly 60 % is not barred.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from engine.governance.errors import GovernanceError
from engine.guards.arithmetic import show_rounded

Numerator = Literal["satisfied", "satisfied_or_basically"]
SurveyBase = Literal["issued", "returned", "valid"]
BAR = Fraction(3, 5)


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyCounts:
    """The recorded forms and answers."""

    issued: int
    returned: int
    valid: int
    satisfied: int
    basically_satisfied: int = 0

    def __post_init__(self) -> None:
        if (
            not (
                0
                <= self.satisfied + self.basically_satisfied
                <= self.valid
                <= self.returned
                <= self.issued
            )
            or min(self.satisfied, self.basically_satisfied) < 0
        ):
            raise GovernanceError(
                "满意度测评: counts must satisfy "
                "0 ≤ satisfied + basically ≤ valid ≤ returned ≤ issued"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyResult:
    """The rate, the 60 % bar and the explanation."""

    numerator: Numerator
    base: SurveyBase
    k: int
    n: int
    rate: Fraction
    below_60: bool
    explanation: str

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "numerator": self.numerator,
            "base": self.base,
            "k": self.k,
            "n": self.n,
            "rate": f"{self.rate.numerator}/{self.rate.denominator}",
            "percent_display": show_rounded(self.rate * 100),
            "below_60": self.below_60,
            "barred_from_awards": self.below_60,
            "explanation": self.explanation,
        }


def satisfaction(
    counts: SurveyCounts,
    *,
    numerator: Numerator = "satisfied_or_basically",
    base: SurveyBase = "valid",
) -> SurveyResult:
    """§5: the satisfaction rate and whether it is below 60 % (``5*k < 3*N``).

    Raises:
        GovernanceError: when the denominator is zero.
    """
    k = counts.satisfied + (counts.basically_satisfied if numerator != "satisfied" else 0)
    n = {"issued": counts.issued, "returned": counts.returned, "valid": counts.valid}[base]
    if n <= 0:
        raise GovernanceError(f"满意度测评: the {base} count is zero: no rate can be computed")
    below = 5 * k < 3 * n
    rate = Fraction(k, n)
    verdict = "低于60%, 书记、主任不能参加第二年评先评优" if below else "不低于60%"
    return SurveyResult(
        numerator=numerator,
        base=base,
        k=k,
        n=n,
        rate=rate,
        below_60=below,
        explanation=f"满意率 {k}/{n} = {show_rounded(rate * 100)}%: {verdict}",
    )
