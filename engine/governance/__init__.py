"""Governance rules as pure, exact functions (R1–R19 and the rules of docs/rules.md).

One module per idea: ``roster`` (R1–R3), ``ballots`` (R12–R19), ``slate``
(R6–R11), ``ranking`` (ties at a cut-off), ``scoring`` (三票制, §3), ``survey``
(§5) and ``disclosure`` (§4). Everything counts in ints and ``Fraction``s; floats
never appear, and every result carries its explanation and a JSON-ready ``record()``.
"""

from engine.governance.ballots import Ballot, RoundResult, SeatReduction, reduce_seats, tally_round
from engine.governance.disclosure import DisclosureWindow, disclosure_window
from engine.governance.errors import GovernanceError
from engine.governance.ranking import Ranked, rank_top
from engine.governance.roster import Attendance, Exclusion, Member, attendance, has_vote
from engine.governance.scoring import (
    LayerCount,
    LayerRule,
    ScoringRule,
    TrustRule,
    compare_rules,
    score,
)
from engine.governance.slate import (
    ballot_order,
    check_officials,
    check_slate,
    min_candidates,
    stroke_key,
)
from engine.governance.survey import SurveyCounts, satisfaction

__all__ = [
    "Attendance",
    "Ballot",
    "DisclosureWindow",
    "Exclusion",
    "GovernanceError",
    "LayerCount",
    "LayerRule",
    "Member",
    "Ranked",
    "RoundResult",
    "ScoringRule",
    "SeatReduction",
    "SurveyCounts",
    "TrustRule",
    "attendance",
    "ballot_order",
    "check_officials",
    "check_slate",
    "compare_rules",
    "disclosure_window",
    "has_vote",
    "min_candidates",
    "rank_top",
    "reduce_seats",
    "satisfaction",
    "score",
    "stroke_key",
    "tally_round",
]
