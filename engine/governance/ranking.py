"""Top-N selection with a declared rule for a tie at the cut-off (R17 in docs/rules.md).

Shared by ballot rounds (a tie at the last seat goes to a re-vote among the tied
only) and by layered scoring (re-vote, or admit every tied candidate). Scores are
ints or exact ``Fraction``s; nothing is rounded before comparing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

TieRule = Literal["revote", "admit_all"]
TIE_RULES: tuple[TieRule, ...] = ("revote", "admit_all")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranked:
    """The outcome of taking the top ``places`` from a scored list.

    Attributes:
        order: every name, best first; equal scores keep their given order.
        selected: names inside the cut-off with no tie across it.
        tied: names sharing the score at the cut-off when they do not all fit
            (empty when there is no such tie, or when ``admit_all`` admitted them).
        open_places: places left for a re-vote among ``tied``.
        tie_rule: the rule applied.
    """

    order: tuple[str, ...]
    selected: tuple[str, ...]
    tied: tuple[str, ...]
    open_places: int
    tie_rule: TieRule

    @property
    def decided(self) -> bool:
        """True when no re-vote is needed."""
        return not self.tied


def rank_top(
    scored: Sequence[tuple[str, int | Fraction]], places: int, tie_rule: TieRule = "revote"
) -> Ranked:
    """Select the top ``places`` names by score, highest first.

    Args:
        scored: (name, score) pairs; names must be distinct.
        places: how many to select (0 or more).
        tie_rule: ``revote`` leaves those tied at the cut-off for a re-vote among
            themselves (R17); ``admit_all`` selects all of them (more than ``places``).

    Returns:
        The ranking, the selected names and any tie at the cut-off.

    Raises:
        ValueError: when ``places`` is negative or a name repeats.
    """
    if places < 0:
        raise ValueError(f"places must be 0 or more, not {places}")
    names = [name for name, _ in scored]
    if len(set(names)) != len(names):
        raise ValueError(f"names repeat in the ranking: {names}")
    # sorted() is stable, so equal scores keep the order the caller gave (ballot order).
    order = sorted(scored, key=lambda item: -item[1])
    ordered = tuple(name for name, _ in order)
    if places == 0 or not order:
        return Ranked(order=ordered, selected=(), tied=(), open_places=0, tie_rule=tie_rule)
    if len(order) <= places:
        return Ranked(order=ordered, selected=ordered, tied=(), open_places=0, tie_rule=tie_rule)
    cutoff = order[places - 1][1]
    above = tuple(name for name, score in order if score > cutoff)
    at_cut = tuple(name for name, score in order if score == cutoff)
    if len(above) + len(at_cut) <= places or tie_rule == "admit_all":
        return Ranked(
            order=ordered, selected=above + at_cut, tied=(), open_places=0, tie_rule=tie_rule
        )
    return Ranked(
        order=ordered,
        selected=above,
        tied=at_cut,
        open_places=places - len(above),
        tie_rule=tie_rule,
    )
