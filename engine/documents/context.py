"""What a document template can read: the case as its audit records tell it.

Figures on an official document must be the ones the engine recorded — the
guards' and actions' results in the hash-chained log — never numbers a template
recomputes. So the context is built from the records alone (and the case data
they produced), and names the head it was built from. The field names here are
the ones ``check`` accepts and docs/documents.md lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.definition.model import DocumentSpec, Procedure, State
from engine.documents.text import period_cn
from engine.governance.counting_rule import DEFAULT_WORDS, CountingRule, Share

ROOTS: Mapping[str, frozenset[str] | None] = {
    "procedure": frozenset({"id", "version", "sha256", "title", "rule_set", "time_zone"}),
    "case": frozenset({"id", "state", "state_label", "opened_at", "opened_by", "deadline_at"}),
    "head": frozenset({"seq", "hash", "at"}),
    "document": frozenset({"name", "title"}),
    # Checked against the procedure: data's schema, action names, event ids, state ids,
    # counting rule names.
    "counting": None,
    "data": None,
    "outputs": None,
    "events": None,
    "states": None,
}
"""Top-level names of the context; a set lists a name's fields, None means the procedure's."""


COUNTING_FIELDS: frozenset[str] = frozenset(
    {"label", "basis", "form", "grades", "words", "invalid_reasons", "proxy_cap", "turnout",
     "threshold", "findings"}
)  # fmt: skip
"""What a template reads of each counting rule: ``counting.RULE.FIELD``."""


def action_names(procedure: Procedure) -> frozenset[str]:
    """The actions any transition of ``procedure`` calls (the keys of ``outputs``)."""
    return frozenset(
        action.name
        for event in procedure.events.values()
        for transition in event.transitions
        for action in transition.actions
    )


def build_context(
    procedure: Procedure,
    spec: DocumentSpec,
    records: Sequence[Mapping[str, Any]],
    data: Mapping[str, Any],
    deadline_at: str = "",
) -> dict[str, Any]:
    """The template context for ``spec`` from a case's records up to its head.

    Args:
        procedure: the version the case runs under.
        spec: the document being built.
        records: the case's audit records in seq order, ending at the head.
        data: the case data after the head record.
        deadline_at: when the current state's deadline falls (RFC 3339), as the engine
            computed it when the case entered the state; empty when there is none.
    """
    head = records[-1]
    first = records[0]
    outputs: dict[str, list[dict[str, Any]]] = {name: [] for name in action_names(procedure)}
    events: dict[str, list[dict[str, Any]]] = {eid: [] for eid in procedure.events}
    for record in records:
        if record.get("kind") != "event.applied" and record.get("kind") != "timer.fired":
            continue
        where = {"seq": record["seq"], "at": record["at"], "event": record.get("event")}
        for action in record.get("actions") or ():
            output = action.get("output")
            entry = dict(output) if isinstance(output, Mapping) else {"value": output}
            outputs.setdefault(action["name"], []).append({**entry, **where})
        event = procedure.events.get(record.get("event") or "")
        if event is None:
            continue
        events[event.id].append(
            {
                **where,
                "label": event.label,
                "actor": (record.get("actor") or {}).get("id", ""),
                # A secret ballot's contents stay in the log; documents show its counts.
                "payload": {} if event.secret_ballot else dict(record.get("payload") or {}),
                "from": record.get("from"),
                "to": record.get("to"),
                "guards": [
                    {k: g.get(k) for k in ("kind", "label", "explanation", "result", "inputs")}
                    for g in record.get("guards") or ()
                ],
            }
        )
    state = head.get("to") or ""
    return {
        "procedure": {
            "id": procedure.id,
            "version": procedure.version,
            "sha256": procedure.sha256,
            "title": procedure.title,
            "rule_set": procedure.rule_set.name,
            "time_zone": procedure.time_zone,
        },
        "case": {
            "id": head["case"],
            "state": state,
            "state_label": procedure.states[state].label if state in procedure.states else state,
            "opened_at": first["at"],
            "opened_by": (first.get("actor") or {}).get("id", ""),
            "deadline_at": deadline_at,
        },
        "head": {"seq": head["seq"], "hash": head["hash"], "at": head["at"]},
        "document": {"name": spec.name, "title": spec.title},
        "counting": {name: _rule(rule) for name, rule in procedure.counting.items()},
        "data": dict(data),
        "outputs": outputs,
        "events": events,
        "states": {sid: _state(s) for sid, s in procedure.states.items()},
    }


def _rule(rule: CountingRule) -> dict[str, Any]:
    """A counting rule in its procedure's words, so a notice states the rule as written
    (every word a count's record would use, the defaults filled in)."""

    def share(bound: Share | None) -> dict[str, str]:
        return {**bound.record(), "label": bound.label} if bound is not None else {}

    return {
        "label": rule.label,
        "basis": rule.basis,
        "form": rule.form,
        "grades": list(rule.grades),
        "words": {key: rule.word(key) for key in (*DEFAULT_WORDS, *rule.words)},
        "invalid_reasons": dict(rule.invalid_reasons),
        "proxy_cap": rule.proxy_cap if rule.proxy_cap is not None else "",
        "turnout": share(rule.turnout),
        "threshold": share(rule.threshold),
        "findings": [{"grade": f.grade, **share(f.share), "label": f.label} for f in rule.findings],
    }


def _state(state: State) -> dict[str, Any]:
    deadline = state.deadline
    return {
        "label": state.label,
        "final": state.final,
        "period": deadline.period if deadline else "",
        "days": deadline.days if deadline else "",
        "period_cn": period_cn(deadline.period, deadline.days) if deadline else "",
    }


def entered_states(records: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Every state the case has entered, by its applied records."""
    return frozenset(
        str(r["to"]) for r in records if r.get("to") and r.get("kind") != "event.refused"
    )


def available(procedure: Procedure, records: Sequence[Mapping[str, Any]]) -> list[DocumentSpec]:
    """The documents a case with these records can produce now, in procedure order."""
    entered = entered_states(records)
    return [spec for spec in procedure.documents if entered.intersection(spec.after)]
