"""The roster actions: ``record_exclusion`` (R2) and ``count_attendance`` (R1–R3).

``record_exclusion`` records a member left out of the expected count, with the
ground and both approvals (R2); ``count_attendance`` counts voters expected and
present after voting rights (R1) and the recorded exclusions, and tests the
quorum (R3), all through ``engine.governance.roster``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.context import ActionContext
from engine.actions.params import (
    FRACTION,
    PATH,
    expr,
    param_names,
    param_value,
    plain_fraction,
    write,
)
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance import roster


def _members(params: Mapping[str, Any], ctx: ActionContext) -> list[roster.Member]:
    raw = param_value(params, "members", ctx)
    if not isinstance(raw, list | tuple):
        raise ActionFailed("members must be a list of {id, status, name?}")
    try:
        return [
            roster.Member(id=str(m["id"]), status=m["status"], name=str(m.get("name", "")))
            for m in raw
        ]
    except (KeyError, TypeError) as exc:
        raise ActionFailed(f"members must be a list of {{id, status, name?}}: {exc}") from exc


def _exclusion(raw: Any) -> roster.Exclusion:
    if not isinstance(raw, Mapping):
        raise ActionFailed("an exclusion is {member, ground, upper_consent, meeting_vote, note?}")
    return roster.Exclusion(
        member=str(raw.get("member", "")),
        ground=raw.get("ground", ""),
        upper_consent=raw.get("upper_consent") is True,
        meeting_vote=raw.get("meeting_vote") is True,
        note=str(raw.get("note", "")),
    )


def _record_exclusion(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    members = {m.id: m for m in _members(params, ctx)}
    exclusion = _exclusion(param_value(params, "exclusion", ctx))
    roster.check_exclusion(exclusion, members, params.get("rule_set", "2020"))
    record = exclusion.record()
    write(ctx, params["into"], record, append=True)
    return record


_RULE_SET = {"enum": ["1990", "2020"], "description": "Which election rules apply (R1)."}

RECORD_EXCLUSION: ActionSpec = ActionSpec(
    name="record_exclusion",
    description=(
        "record a member left out of the expected count, with the ground and both approvals "
        "(R2); one without both approvals, or on another ground, is refused"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["members", "exclusion", "into"],
        "properties": {
            "members": expr("the roster: a list of {id, status, name?}"),
            "exclusion": expr("{member, ground, upper_consent, meeting_vote, note?}"),
            "rule_set": _RULE_SET,
            "into": PATH,
        },
    },
    run=_record_exclusion,
    expressions=("members", "exclusion"),
    writes="into",
)


def _count_attendance(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    raw = param_value(params, "exclusions", ctx) if "exclusions" in params else []
    if not isinstance(raw, list | tuple):
        raise ActionFailed("exclusions must be a list")
    result = roster.attendance(
        _members(params, ctx),
        param_names(params, "present", ctx),
        [_exclusion(e) for e in raw],
        params.get("rule_set", "2020"),
    )
    record = result.record()
    if "quorum" in params:
        q = params["quorum"]
        operator = q.get("operator", "at_least")
        outcome = result.quorum(operator, plain_fraction(q.get("fraction", "4/5"), "quorum"))
        record["quorum"] = {**outcome.inputs(), "met": outcome.met}
        record["quorum"]["explanation"] = roster.explain_quorum(outcome, q.get("label", ""))
    write(ctx, params["into"], record)
    return record


COUNT_ATTENDANCE: ActionSpec = ActionSpec(
    name="count_attendance",
    description=(
        "count voters expected and present after voting rights (R1) and recorded exclusions "
        "(R2), non-voting attendees apart, and test the quorum (R3)"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["members", "present", "into"],
        "properties": {
            "members": expr("the roster: a list of {id, status, name?}"),
            "present": expr("the ids of those who came"),
            "exclusions": expr("the recorded exclusions"),
            "rule_set": _RULE_SET,
            "quorum": {
                "type": "object",
                "additionalProperties": False,
                "description": "R3: present against a fraction of expected.",
                "properties": {
                    "operator": {
                        "enum": ["more_than", "at_least"],
                        "description": "超过 (1990) or 不少于 (guidance, the pilots).",
                    },
                    "fraction": FRACTION,
                    "label": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "description": (
                            "The procedure's words for its quorum rule, put before the "
                            "explanation (e.g. 到会党员不少于应到会党员的五分之四)."
                        ),
                    },
                },
            },
            "into": PATH,
        },
    },
    run=_count_attendance,
    expressions=("members", "present", "exclusions"),
    writes="into",
)


__all__ = ["COUNT_ATTENDANCE", "RECORD_EXCLUSION"]
