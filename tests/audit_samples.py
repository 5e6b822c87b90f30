"""Realistic audit records for the audit tests: 四议两公开 cases with Chinese text.

``sample_log()`` gives three interleaved cases, sealed, in file order; the
records look like the runtime's (a meeting vote with a secret ballot, a
refusal, a disclosure timer).
"""

from __future__ import annotations

from typing import Any

from engine.audit import GENESIS, ChainHead, seal

PROCEDURE = {
    "id": "si-yi-liang-gong-kai",
    "version": "1.0.0",
    "sha256": "5f0c2a4e9d1b7c3a8e6f4d2b0a9c8e7f6d5c4b3a2918f7e6d5c4b3a291807f6e",
}
SECRETARY = {"id": "wang-fang", "roles": ["党支部书记"]}
CLERK = {"id": "li-na", "roles": ["村委会文书"]}
SYSTEM = {"id": "system", "roles": []}


def opened(case: str, title: str, at: str) -> dict[str, Any]:
    """Fields of a ``case.opened`` record."""
    return {
        "v": 1,
        "case": case,
        "seq": 1,
        "at": at,
        "kind": "case.opened",
        "actor": SECRETARY,
        "event": None,
        "payload": {},
        "from": None,
        "to": "proposed",
        "guards": [],
        "actions": [],
        "procedure": PROCEDURE,
        "rule_set": {"name": "四议两公开", "choices": {"quorum": "2/3", "passing": "1/2"}},
        "data": {"议题": title, "预算": "120000", "户数": 86},
    }


def applied(  # noqa: PLR0917 - reads like the record it builds
    case: str, seq: int, at: str, event: str, source: str, target: str
) -> dict[str, Any]:
    """Fields of an ``event.applied`` record, with a guard and an action."""
    return {
        "v": 1,
        "case": case,
        "seq": seq,
        "at": at,
        "kind": "event.applied",
        "actor": SECRETARY,
        "event": event,
        "payload": {"意见": "同意提交党员大会审议", "附件": ["会议纪要.pdf"]},
        "from": source,
        "to": target,
        "guards": [
            {
                "transition": 0,
                "kind": "quorum",
                "label": "到会人数达到三分之二",
                "inputs": {"present": 41, "eligible": 58, "threshold": "2/3"},
                "result": True,
                "explanation": "到会 41 人，应到 58 人，41/58 ≥ 2/3",
            }
        ],
        "actions": [
            {"name": "set", "params": {"path": "data.阶段", "value": target}, "output": target}
        ],
        "procedure": PROCEDURE,
    }


def ballot(case: str, seq: int, at: str) -> dict[str, Any]:
    """A secret-ballot count: contents without voter identity; attendance separately."""
    record = applied(case, seq, at, "vote.counted", "voting", "passed")
    record["actor"] = CLERK
    record["payload"] = {
        "attendance": {"present": 41, "ballots_issued": 41},
        "ballots": [{"choice": "赞成"}] * 3 + [{"choice": "反对"}, {"choice": "弃权"}],
    }
    return record


def refused(case: str, seq: int, at: str, state: str) -> dict[str, Any]:
    """Fields of an ``event.refused`` record (role missing)."""
    return {
        "v": 1,
        "case": case,
        "seq": seq,
        "at": at,
        "kind": "event.refused",
        "actor": {"id": "zhao-lei", "roles": ["村民"]},
        "event": "proposal.approved",
        "payload": {},
        "from": state,
        "to": state,
        "guards": [],
        "actions": [],
        "procedure": PROCEDURE,
        "reason": {
            "code": "not-authorised",
            "message": "zhao-lei 持有 村民；proposal.approved 只能由 党支部书记 触发",
            "details": [],
        },
        "idempotency_key": f"{case}-{seq}",
    }


def timer(case: str, seq: int, at: str, source: str, target: str) -> dict[str, Any]:
    """Fields of a ``timer.fired`` record (a 7-day disclosure ended)."""
    record = applied(case, seq, at, "disclosure.ended", source, target)
    record.update(kind="timer.fired", actor=SYSTEM, payload={}, guards=[])
    return record


def sample_log(cases: int = 3) -> list[dict[str, Any]]:
    """Sealed records of ``cases`` cases (2 or 3), interleaved as a shared log holds them."""
    plans: list[list[dict[str, Any]]] = [
        [
            opened("c-2024-001", "修建村道：东组至西组，约1.2公里", "2024-03-01T09:00:00+08:00"),
            applied("c-2024-001", 2, "2024-03-02T10:00:00+08:00", "propose", "proposed", "voting"),
            ballot("c-2024-001", 3, "2024-03-05T15:30:00+08:00"),
            timer("c-2024-001", 4, "2024-03-12T15:30:00+08:00", "passed", "closed"),
        ],
        [
            opened("c-2024-002", "村集体经济合作社分红方案", "2024-03-01T09:30:00+08:00"),
            refused("c-2024-002", 2, "2024-03-01T11:00:00+08:00", "proposed"),
            applied("c-2024-002", 3, "2024-03-03T09:00:00Z", "propose", "proposed", "voting"),
        ],
        [
            opened("c-2024-003", "修缮祠堂 𠀋 屋顶（含生僻字）", "2024-03-04T08:00:00+08:00"),
            applied("c-2024-003", 2, "2024-03-04T08:30:00.250+08:00", "propose", "proposed", "v"),
        ],
    ][:cases]
    heads = {plan[0]["case"]: ChainHead(case=plan[0]["case"]) for plan in plans}
    out: list[dict[str, Any]] = []
    position = 0
    while any(position < len(plan) for plan in plans):
        for plan in plans:
            if position < len(plan):
                record = plan[position]
                sealed, heads[record["case"]] = heads[record["case"]].seal(record)
                out.append(sealed)
        position += 1
    return out


def single(case: str = "c-2024-009") -> dict[str, Any]:
    """One sealed ``case.opened`` record."""
    return seal(opened(case, "小额工程招标", "2024-04-01T09:00:00+08:00"), GENESIS)
