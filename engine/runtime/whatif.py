"""What-if replay: would the recorded decisions still stand under amended rules?

Replay proves a trail follows from its own procedure. What-if replay feeds the
same recorded inputs (initial data, each attempt's event, actor, payload and
time, each recorded timer firing at its recorded time) to another procedure
version and compares outcome by outcome: applied or refused, the transition
taken, each count's status and elected set, and the final state, quoting the
guard and count explanations that changed. It only reads records; nothing is
written anywhere.

A recorded timer is re-fired at its recorded time even if the amended version
would have fired it at another time or not at all: the question asked is what
these inputs give under those rules, and the difference in transition or
refusal shows where the deadlines disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EngineError
from engine.runtime.attempt import Runner, attempt, open_record
from engine.runtime.clock import parse_time
from engine.runtime.snapshot import CaseSnapshot
from engine.runtime.types import Actor

MIGRATED = "case.migrated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one attempt came to, in the terms an auditor compares."""

    kind: str
    to: str | None
    reason: str | None = None
    counts: tuple[Mapping[str, Any], ...] = ()

    def summary(self) -> str:
        """One short phrase: ``applied → state`` or ``refused (code)``."""
        if self.kind == "event.refused":
            return f"refused ({self.reason})" if self.reason else "refused"
        if self.kind == "not-run":
            return f"cannot run: {self.reason}"
        word = {"case.opened": "opened", "timer.fired": "timer"}.get(self.kind, "applied")
        return f"{word} → {self.to}"

    def as_json(self) -> dict[str, Any]:
        """The outcome as plain JSON."""
        return {"kind": self.kind, "to": self.to, "reason": self.reason,
                "counts": [dict(c) for c in self.counts]}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    """One seq whose outcome differs under the amended rules."""

    case: str
    seq: int
    event: str | None
    changes: tuple[str, ...]
    recorded: Outcome
    amended: Outcome
    explanations: tuple[tuple[str, str], ...] = ()
    """Pairs (recorded, amended) of explanation lines that differ; "" where one side has none."""

    def as_json(self) -> dict[str, Any]:
        """The difference as plain JSON."""
        return {
            "case": self.case, "seq": self.seq, "event": self.event,
            "changes": list(self.changes), "recorded": self.recorded.as_json(),
            "amended": self.amended.as_json(),
            "explanations": [{"recorded": a, "amended": b} for a, b in self.explanations],
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseComparison:
    """One case under its recorded rules and under the amended ones."""

    case: str
    recorded_sha256: str
    records: int
    final_recorded: str | None
    final_amended: str | None
    differences: tuple[Difference, ...] = ()
    stopped: str | None = None
    """Why re-execution stopped early under the amended rules (e.g. the data is invalid)."""

    def as_json(self) -> dict[str, Any]:
        """The comparison as plain JSON."""
        return {
            "case": self.case, "recorded_sha256": self.recorded_sha256,
            "records": self.records,
            "final_state": {"recorded": self.final_recorded, "amended": self.final_amended},
            "stopped": self.stopped,
            "differences": [d.as_json() for d in self.differences],
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIfReport:
    """Every case compared."""

    amended: Mapping[str, str]
    cases: tuple[CaseComparison, ...] = field(default_factory=tuple)

    @property
    def differs(self) -> bool:
        return any(
            c.differences or c.final_recorded != c.final_amended or c.stopped for c in self.cases
        )

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON (``yishi replay --under … --json``)."""
        return {"amended": dict(self.amended), "differs": self.differs,
                "cases": [c.as_json() for c in self.cases]}  # fmt: skip


def _counts(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """Each count result in the record's actions: its status and elected set or decision."""
    found = []
    for action in record.get("actions") or ():
        output = action.get("output") if isinstance(action, Mapping) else None
        if not isinstance(output, Mapping):
            continue
        if "elected" in output or "adopted" in output:
            shown: dict[str, Any] = {"action": action.get("name")}
            for key in ("status", "elected", "adopted"):
                if key in output:
                    shown[key] = output[key]
            found.append(shown)
    return tuple(found)


def outcome_of(record: Mapping[str, Any]) -> Outcome:
    """The comparable outcome of a sealed record."""
    reason = record.get("reason")
    code = str(reason.get("code")) if isinstance(reason, Mapping) else None
    return Outcome(kind=str(record["kind"]), to=record.get("to"), reason=code,
                   counts=_counts(record))  # fmt: skip


def _explanation_lines(record: Mapping[str, Any]) -> list[str]:
    """The guard explanations, then each count's explanation lines, in record order."""
    lines = [str(g.get("explanation", "")) for g in record.get("guards") or ()]
    for action in record.get("actions") or ():
        output = action.get("output") if isinstance(action, Mapping) else None
        if isinstance(output, Mapping) and isinstance(output.get("explanation"), list):
            lines.extend(str(line) for line in output["explanation"])
    return lines


def _changed_explanations(
    recorded: Mapping[str, Any], amended: Mapping[str, Any]
) -> tuple[tuple[str, str], ...]:
    """Explanation lines that differ, paired in order; lines both sides share are left out."""
    left = _explanation_lines(recorded)
    right = _explanation_lines(amended)
    shared = set(left) & set(right)
    only_left = [line for line in left if line not in shared]
    only_right = [line for line in right if line not in shared]
    width = max(len(only_left), len(only_right))
    only_left += [""] * (width - len(only_left))
    only_right += [""] * (width - len(only_right))
    return tuple(zip(only_left, only_right, strict=True))


def _changes(recorded: Outcome, amended: Outcome) -> tuple[str, ...]:
    changes = []
    if recorded.kind != amended.kind:
        changes.append("outcome")
    elif recorded.to != amended.to:
        changes.append("transition")
    elif recorded.kind == "event.refused" and recorded.reason != amended.reason:
        changes.append("refusal reason")
    if recorded.counts != amended.counts:
        changes.append("count result")
    return tuple(changes)


def _rerun(
    runner: Runner, snapshot: CaseSnapshot | None, record: Mapping[str, Any]
) -> tuple[dict[str, Any], CaseSnapshot]:
    actor = Actor.of(record["actor"])
    at = parse_time(str(record["at"]))
    key = record.get("idempotency_key")
    if snapshot is None:
        return open_record(runner, str(record["case"]), record.get("data", {}), actor=actor,
                           at=at, idempotency_key=key)  # fmt: skip
    return attempt(
        runner, snapshot, str(record["event"]), actor=actor, payload=record.get("payload", {}),
        at=at, idempotency_key=key, timer=record["kind"] == "timer.fired",
    )  # fmt: skip


def _compare_case(runner: Runner, case: str, items: list[Mapping[str, Any]]) -> CaseComparison:
    snapshot: CaseSnapshot | None = None
    differences: list[Difference] = []
    stopped: str | None = None
    for record in items:
        if record["kind"] == MIGRATED:
            # The recorded case moved to another version here; the amended run stays
            # under the amended rules throughout.
            continue
        recorded = outcome_of(record)
        try:
            replayed, snapshot = _rerun(runner, snapshot, record)
        except (EngineError, KeyError, ValueError, TypeError) as exc:
            stopped = f"seq {record['seq']}: {exc}"
            amended = Outcome(kind="not-run", to=None, reason=str(exc))
            differences.append(
                Difference(case=case, seq=int(record["seq"]), event=record.get("event"),
                           changes=("outcome",), recorded=recorded, amended=amended)
            )  # fmt: skip
            break
        amended = outcome_of(replayed)
        changes = _changes(recorded, amended)
        if changes:
            differences.append(
                Difference(
                    case=case, seq=int(record["seq"]), event=record.get("event"),
                    changes=changes, recorded=recorded, amended=amended,
                    explanations=_changed_explanations(record, replayed),
                )
            )  # fmt: skip
    return CaseComparison(
        case=case,
        recorded_sha256=str(items[0]["procedure"]["sha256"]),
        records=len(items),
        final_recorded=items[-1].get("to"),
        final_amended=None if stopped is not None or snapshot is None else snapshot.state,
        differences=tuple(differences),
        stopped=stopped,
    )


def what_if(records: Iterable[Mapping[str, Any]], runner: Runner) -> WhatIfReport:
    """Compare every case in ``records`` (verified beforehand) with a re-run under ``runner``.

    Cases are compared in order of first appearance, each case's records in seq order.
    """
    cases: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        cases.setdefault(str(record["case"]), []).append(record)
    compared = []
    for case, items in cases.items():
        items.sort(key=lambda r: int(r["seq"]))
        compared.append(_compare_case(runner, case, items))
    return WhatIfReport(amended=dict(runner.identity), cases=tuple(compared))
