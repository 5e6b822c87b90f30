"""Built-in actions that run the governance library from a procedure.

Each reads its inputs through CEL expressions declared in its parameters (compiled
and checked against the data and payload schemas when the procedure loads),
calls a pure function of ``engine.governance``, writes the JSON-ready result to
the data path in ``into`` and returns it, so the audit record of the transition
carries every count and the explanation. Inputs a rule refuses make the attempt
refused with the rule's reason (``GovernanceError`` is an ``EngineError``).

Actions: ``count_vote`` (the procedure's own counting rule),
``decide_seat_reduction`` (its seat reduction), ``tally_round``
(R13–R19), ``reduce_seats`` (R18), ``score_layers`` (§3),
``rank`` (R17, §3), ``record_exclusion`` (R2), ``count_attendance`` (R1–R3),
``check_slate`` (R6–R11), ``check_eligibility`` (§2–§3) and ``survey_rate`` (§5).

This module only collects them, in the order ``describe`` lists them; each lives in
the module of its rule (``ballot_actions``, ``scoring_actions``, ``roster_actions``,
``slate_actions``, ``survey_actions``) and shares its parameter readers through
``engine.actions.params``. ``engine.actions.registry`` imports this module at its
end, once ``ActionSpec`` exists.
"""

from __future__ import annotations

from engine.actions.ballot_actions import REDUCE_SEATS, TALLY_ROUND
from engine.actions.counting_actions import COUNT_VOTE, DECIDE_SEAT_REDUCTION
from engine.actions.roster_actions import COUNT_ATTENDANCE, RECORD_EXCLUSION
from engine.actions.scoring_actions import RANK, SCORE_LAYERS
from engine.actions.slate_actions import CHECK_ELIGIBILITY, CHECK_SLATE
from engine.actions.spec import ActionSpec
from engine.actions.survey_actions import SURVEY_RATE

GOVERNANCE_ACTIONS: tuple[ActionSpec, ...] = (
    COUNT_VOTE,
    DECIDE_SEAT_REDUCTION,
    TALLY_ROUND,
    REDUCE_SEATS,
    SCORE_LAYERS,
    RANK,
    RECORD_EXCLUSION,
    COUNT_ATTENDANCE,
    CHECK_SLATE,
    CHECK_ELIGIBILITY,
    SURVEY_RATE,
)

__all__ = ["GOVERNANCE_ACTIONS"]
