"""The cheap builders of frozen values make the very objects the classes make."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.audit.entry import AuditRecord, ProcedureStamp, Reason, new_record
from engine.frozen import builder
from engine.guards.checks import GuardResult, guard_result
from engine.runtime.selector import Judged, Selection
from engine.runtime.snapshot import CaseSnapshot, new_snapshot
from engine.runtime.types import Outcome, new_outcome

SNAPSHOT: dict[str, Any] = {
    "id": "c-1",
    "procedure_id": "p",
    "procedure_version": "1.0.0",
    "procedure_sha256": "a" * 64,
    "state": "drafting",
    "data": {"members": 5},
    "seq": 2,
    "head": "b" * 64,
    "final": False,
    "state_entered_at": "2024-03-01T01:00:00Z",
    "deadline_at": datetime(2024, 3, 8, tzinfo=UTC),
    "deadline_event": "remind",
    "updated_at": "2024-03-01T01:00:00Z",
    "unit": "县/镇/村",
}


def test_a_built_snapshot_is_the_snapshot_the_class_makes() -> None:
    built, made = new_snapshot(**SNAPSHOT), CaseSnapshot(**SNAPSHOT)
    assert type(built) is CaseSnapshot
    assert built == made
    assert repr(built) == repr(made)
    assert [getattr(built, f.name) for f in dataclasses.fields(CaseSnapshot)] == [
        getattr(made, f.name) for f in dataclasses.fields(CaseSnapshot)
    ]
    assert dataclasses.replace(built, seq=3) == dataclasses.replace(made, seq=3)
    assert pickle.loads(pickle.dumps(built)) == made  # noqa: S301 - bytes made just above
    assert copy.deepcopy(built) == made


def test_defaults_are_the_classes_own() -> None:
    required = {
        k: v for k, v in SNAPSHOT.items() if k not in ("deadline_at", "deadline_event", "unit")
    }
    assert new_snapshot(**required) == CaseSnapshot(**required)
    first = guard_result(kind="cel", label="", passed=True, explanation="holds")
    second = guard_result(kind="cel", label="", passed=True, explanation="holds")
    assert first == GuardResult(kind="cel", label="", passed=True, explanation="holds")
    assert first.inputs == {}
    assert first.inputs is not second.inputs  # a default factory is called per object
    outcome = new_outcome(
        case="c", seq=1, status="applied", event=None, from_state=None, to_state="s"
    )
    assert outcome == Outcome(
        case="c", seq=1, status="applied", event=None, from_state=None, to_state="s"
    )
    assert outcome.record == {}
    assert outcome.replayed is False


def test_every_builder_in_use_agrees_with_its_class() -> None:
    stamp = ProcedureStamp(id="p", version="1", sha256="a" * 64)
    record: dict[str, Any] = {
        "case": "c",
        "seq": 2,
        "at": "2024-03-01T01:00:00Z",
        "kind": "event.refused",
        "actor_id": "张三",
        "roles": ("clerk",),
        "event": "e",
        "payload": {"n": 1},
        "from_state": "a",
        "to_state": "a",
        "procedure": stamp,
        "reason": Reason(code="guards-failed", message="no"),
    }
    assert new_record(**record) == AuditRecord(**record)
    assert new_record(**record).to_wire("0" * 64) == AuditRecord(**record).to_wire("0" * 64)
    judged = builder(Judged)
    assert judged(None, (), True) == Judged(None, (), True)
    selection = builder(Selection)
    assert selection((), None) == Selection(judged=(), chosen=None)


@pytest.mark.parametrize("name", ["state", "seq", "data"])
def test_a_built_value_stays_frozen(name: str) -> None:
    built = new_snapshot(**SNAPSHOT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, name, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(built, name)
    assert built == CaseSnapshot(**SNAPSHOT)


def test_classes_whose_init_does_more_are_refused() -> None:
    @dataclass(slots=True)
    class Open:
        x: int

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Derived:
        x: int
        y: int = field(init=False, default=0)

    class Plain:
        __slots__ = ("x",)

    for cls in (Open, NoSlots, Checked, Derived, Plain):
        with pytest.raises(TypeError):
            builder(cls)
