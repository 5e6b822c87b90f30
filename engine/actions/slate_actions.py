"""The nomination actions: ``check_slate`` (R6–R11) and ``check_eligibility`` (§2–§3).

``check_slate`` checks a post's slate — the 差额 margin (R6) or an uncontested post
(R7), ballot order (R8), and that no scrutineer or counter stands (R10–R11) —
through ``engine.governance.slate``; ``check_eligibility`` reviews each nominee
against the published eligibility conditions (data, not code) through
``engine.governance.eligibility``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.context import ActionContext
from engine.actions.params import (
    PATH,
    count_param,
    expr,
    param_int,
    param_names,
    param_value,
    write,
)
from engine.actions.spec import ActionSpec
from engine.errors import ActionFailed
from engine.governance import eligibility, slate


def _check_slate(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    names = param_names(params, "candidates", ctx)
    check = slate.check_slate(
        post=params["post"],
        seats=param_int(params, "seats", ctx),
        candidates=len(names),
        contest=params.get("contest", "contested"),
    )
    order = slate.ballot_order(
        names, order=params.get("order", "strokes"), approved=param_names(params, "approved", ctx)
    )
    officials = slate.check_officials(
        candidates=names,
        scrutineers=param_names(params, "scrutineers", ctx),
        counters=param_names(params, "counters", ctx),
    )
    ok = check.ok and officials.ok
    record = {
        "ok": ok,
        "slate": check.record(),
        "ballot_order": order.record(),
        "officials": officials.record(),
    }
    if not ok and params.get("refuse", True):
        failed = [r.explanation for r in (check, officials) if not r.ok]
        raise ActionFailed("; ".join(failed))
    write(ctx, params["into"], record)
    return record


CHECK_SLATE: ActionSpec = ActionSpec(
    name="check_slate",
    description=(
        "check a post's slate: the 差额 margin (R6) or an uncontested post (R7), ballot order "
        "by surname strokes or as approved (R8), and that no scrutineer or counter stands (R10–R11)"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["post", "seats", "candidates", "into"],
        "properties": {
            "post": {"type": "string", "minLength": 1, "description": "The post, in words."},
            "seats": count_param("seats for the post"),
            "candidates": expr("the candidates' names"),
            "contest": {
                "enum": ["contested", "uncontested"],
                "description": "差额 (R6) or 等额 (R7).",
            },
            "order": {
                "enum": ["strokes", "approved"],
                "description": "Ballot order: surname strokes, or the approved order (R8).",
            },
            "approved": expr("the order the upper organisation approved"),
            "scrutineers": expr("the scrutineers' names (监票人)"),
            "counters": expr("the counters' names (计票人)"),
            "refuse": {
                "type": "boolean",
                "description": "Refuse the attempt when a check fails (true when omitted).",
            },
            "into": PATH,
        },
    },
    run=_check_slate,
    expressions=("seats", "candidates", "approved", "scrutineers", "counters"),
    writes="into",
)


_TEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fact"],
    "description": "One fact compared one way: exactly one of at_least, at_most, equals, one_of.",
    "properties": {
        "fact": {"type": "string", "minLength": 1, "description": "The nominee's fact."},
        "at_least": {"type": "integer", "description": "≥ (以上, the number included)."},
        "at_most": {"type": "integer", "description": "≤ (以下, the number included)."},
        "equals": {"description": "Equal to this value (same type)."},
        "one_of": {"type": "array", "description": "Equal to one of these values."},
    },
}
_TESTS = {"type": "array", "minItems": 1, "items": _TEST, "description": "Tests that all hold."}


def _check_eligibility(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    nominees = param_value(params, "nominees", ctx)
    if not isinstance(nominees, list | tuple):
        raise ActionFailed("nominees must be a list of {name, facts, …}")
    record = eligibility.review(params["rules"], nominees)
    write(ctx, params["into"], record)
    return record


CHECK_ELIGIBILITY: ActionSpec = ActionSpec(
    name="check_eligibility",
    description=(
        "review each nominee against the published eligibility conditions (data, not code): "
        "eligible or not, with every failed condition and its reason"
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["rules", "nominees", "into"],
        "properties": {
            "rules": {
                "type": "array",
                "minItems": 1,
                "description": "The published conditions; a nominee must meet every one.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "label"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "description": "Rule id."},
                        "label": {"type": "string", "description": "The condition in words."},
                        "all_of": _TESTS,
                        "any_of": {
                            "type": "array",
                            "minItems": 1,
                            "description": "Alternatives; the rule holds when one holds.",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["all_of"],
                                "properties": {"all_of": _TESTS},
                            },
                        },
                    },
                },
            },
            "nominees": expr("the nominees: a list of {name, facts: {fact: value}, …}"),
            "into": PATH,
        },
    },
    run=_check_eligibility,
    expressions=("nominees",),
    writes="into",
)


__all__ = ["CHECK_ELIGIBILITY", "CHECK_SLATE"]
