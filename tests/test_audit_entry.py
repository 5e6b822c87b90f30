"""Specification: the typed audit record (``engine.audit.entry``) seals to the very bytes of
the dict the engine wrote before it, and the checks it skips are made where values enter."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_support import (
    CLERK,
    FOUR_DATA,
    SECRETARY,
    T0,
    TOY_DATA,
    four,
    jcs_hash,
    new_engine,
    toy,
)  # fmt: skip

from engine.audit import GENESIS, MAX_SAFE_INT, NotCanonicalizable, RecordInvalid, seal
from engine.audit.canonical import assembled_bytes, canonical_bytes, check_exact, exact_copy
from engine.audit.chain import Sealed, seal_record
from engine.audit.entry import WIRE_ORDER, AuditRecord, ProcedureStamp, Reason, in_wire_order
from engine.audit.signing import Signer
from engine.runtime.attempt import Runner, attempt, outcome_of
from engine.runtime.engine import Engine
from engine.storage.base import CaseSnapshot
from engine.storage.memory import MemoryStore

_TEXT = st.text(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(["议", "𠀋", "\U0001f600", '"'])),
    max_size=6,
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)

BAD = [
    ({"a": [1, {"ratio": 0.5}]}, "$.a[1].ratio"),
    ({"n": 2**53}, "$.n"),
    ({"n": -(2**53)}, "$.n"),
    ({"s": "\ud800"}, "$.s"),
    ({"t": datetime(2024, 1, 1)}, "$.t"),
    ({1: "x"}, "$"),
]


@given(_JSON)
@settings(max_examples=200)
def test_assembled_bytes_and_exact_copy_agree_with_the_reference(value: Any) -> None:
    """Rule: the unwalked encoding writes rfc8785's bytes, and ``exact_copy`` returns an
    equal value that shares no list or dict with its input."""
    assert rfc8785.dumps(value) == assembled_bytes(value)
    copied = exact_copy(value)
    assert copied == value
    assert not isinstance(value, list | dict) or copied is not value


@pytest.mark.parametrize(("value", "path"), BAD)
def test_every_check_refuses_what_canonical_bytes_refuses_at_the_same_path(
    value: Any, path: str
) -> None:
    """Rule: ``exact_copy``, ``check_exact`` and ``assembled_bytes`` refuse every value that
    ``canonical_bytes`` refuses, naming the same place (floats aside for the last: see
    the next test)."""
    for check in (canonical_bytes, exact_copy, check_exact, assembled_bytes):
        if check is assembled_bytes and "ratio" in path:
            continue
        with pytest.raises(NotCanonicalizable) as caught:
            check(value)
        assert caught.value.path == path, check


def test_assembled_bytes_trusts_that_no_float_was_let_in() -> None:
    """Rule (the one thing the unwalked encoding cannot see): a float is written, so every
    value from outside must pass ``exact_copy`` or ``check_exact`` before it is assembled."""
    assert assembled_bytes({"x": 0.5}) == b'{"x":0.5}'
    with pytest.raises(NotCanonicalizable):
        exact_copy({"x": 0.5})


def _engine_records(signer: Signer | None = None) -> list[dict[str, Any]]:
    """Records of every kind the engine writes: opened (with a unit and a key), applied,
    refused by guards, refused for an inexact payload, refused by a failed action,
    a timer's record; signed when ``signer``."""
    engine = Engine(store=MemoryStore(), signer=signer)
    engine.open_case(
        four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0, idempotency_key="k-1", unit="县/镇/村"
    )
    at = T0 + timedelta(hours=1)
    engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=at)
    engine.fire("c1", "deliberate", actor=SECRETARY, payload={"present": 1, "yes": 0}, at=at)
    engine.fire("c1", "deliberate", actor=SECRETARY, payload={"present": 2.0, "yes": 0}, at=at)
    engine.open_case(toy(), "t1", TOY_DATA, actor=CLERK, at=T0)
    engine.fire("t1", "blow", actor=CLERK, payload={}, at=at)
    engine.fire("t1", "divide", actor=CLERK, payload={"n": 0}, at=at)
    engine.fire("t1", "post", actor=CLERK, payload={}, at=at)
    assert len(engine.tick(T0 + timedelta(days=400))) == 1
    return engine.records("c1") + engine.records("t1")


@pytest.mark.parametrize("signed", [False, True])
def test_engine_records_seal_exactly_as_the_dict_door_seals_them(signed: bool) -> None:
    """Rule: for every kind of record, the typed seal gives the keys in the same order, the
    hash and the signature that ``seal`` gives the same fields, and the reference hash."""
    signer = Signer.generate() if signed else None
    records = _engine_records(signer)
    kinds = {r["kind"] for r in records}
    assert kinds == {"case.opened", "event.applied", "event.refused", "timer.fired"}
    for record in records:
        fields = {k: v for k, v in record.items() if k not in ("hash", "signature")}
        again = seal(fields, record["prev"], signer)
        assert list(again) == list(record)
        assert again == record
        assert jcs_hash(record) == record["hash"]


def test_wire_order_is_the_order_a_record_with_every_field_seals_in() -> None:
    """Rule: ``WIRE_ORDER`` lists every key of a sealed record in sealing order, so a record
    parsed from its (sorted) line is given back its keys as the engine sealed them."""
    record = AuditRecord(
        case="c", seq=1, at="2024-03-01T01:00:00Z", kind="case.opened", actor_id="a",
        roles=("r",), event=None, payload={}, from_state=None, to_state="s",
        procedure=ProcedureStamp(id="p", version="1", sha256="0" * 64),
        rule_set={"name": "n"}, data={"x": 1}, engine={"yishi": "0"}, idempotency_key="k",
        unit="县", reason=Reason(code="c", message="m"),
    )  # fmt: skip
    sealed = seal_record(record, GENESIS, Signer.generate())

    assert list(sealed) == list(WIRE_ORDER)
    parsed = {key: sealed[key] for key in sorted(sealed)}
    assert list(in_wire_order(parsed)) == list(WIRE_ORDER)
    assert list(in_wire_order({"zz": 1, **parsed})) == [*WIRE_ORDER, "zz"]


def test_an_outcome_is_the_same_read_from_the_typed_record_or_from_the_dict() -> None:
    """Rule: the outcome built from the typed record (its ``Reason`` as made) equals the one
    parsed back from the record's fields, for applied and refused attempts."""
    engine, _ = new_engine()
    engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)
    at = T0 + timedelta(hours=1)
    refused = engine.fire("c1", "deliberate", actor=SECRETARY, payload={}, at=at)
    applied = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=at)
    for outcome in (refused, applied):
        assert isinstance(outcome.record, Sealed) and outcome.record.entry is not None
        assert outcome_of(dict(outcome.record)) == outcome
    assert isinstance(refused.reason, Reason)
    assert refused.reason.code == "not-allowed"


def _entry(**changes: Any) -> AuditRecord:
    base = AuditRecord(
        case="c1",
        seq=1,
        at="2024-03-01T01:00:00Z",
        kind="case.opened",
        actor_id="甲",
        roles=("clerk",),
        event=None,
        payload={},
        from_state=None,
        to_state="open",
        procedure=ProcedureStamp(id="p", version="1", sha256="0" * 64),
        rule_set={"name": "x", "choices": {}},
        data={},
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"case": ""},
        {"case": 7},
        {"actor_id": None},
        {"roles": ("a", 1)},
        {"idempotency_key": 5},
        {"seq": 2},
    ],
)
def test_seal_record_still_refuses_a_caller_supplied_field_of_the_wrong_type(
    changes: dict[str, Any],
) -> None:
    """Rule: what a caller supplies (case id, actor, key) is type-checked before sealing,
    and a first record must be the case's seq 1."""
    with pytest.raises(RecordInvalid):
        seal_record(_entry(**changes), GENESIS)


def test_seal_record_still_refuses_a_value_with_no_json_form() -> None:
    """Rule: an integer beyond ±(2**53 - 1) in an engine-made part stops the seal, located."""
    with pytest.raises(NotCanonicalizable) as caught:
        seal_record(_entry(rule_set={"name": "x", "choices": {"n": 2**60}}), GENESIS)
    assert caught.value.path == "$.rule_set.choices.n"


def test_opening_with_float_data_names_the_field_under_data() -> None:
    """Rule: case data is checked once, when the case opens; the error says where."""
    engine = Engine(store=MemoryStore())
    with pytest.raises(NotCanonicalizable) as caught:
        engine.open_case(toy(), "t1", {**TOY_DATA, "count": 2.0}, actor=CLERK, at=T0)
    assert caught.value.path == "$.data.count"
    assert engine.store.get_case("t1") is None


SNAPSHOT_FIELDS = {
    "id", "procedure_id", "procedure_version", "procedure_sha256", "state", "data", "seq",
    "head", "final", "state_entered_at", "deadline_at", "deadline_event", "updated_at", "unit",
}  # fmt: skip


def test_attempt_carries_every_snapshot_field_forward() -> None:
    """Rule: ``attempt`` builds the next snapshot field by field (faster than ``replace``),
    so this list must name every field of ``CaseSnapshot``; a new field needs a look at
    ``attempt`` first. The unit and procedure fields carry over unchanged."""
    assert {f.name for f in dataclasses.fields(CaseSnapshot)} == SNAPSHOT_FIELDS
    runner = Runner(four())
    engine = Engine(store=MemoryStore())
    engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0, unit="县/镇/村")
    before = engine.store.get_case("c1")
    assert before is not None
    _, after = attempt(
        runner, before, "propose", actor=SECRETARY, payload={"present": 4, "yes": 3},
        at=T0 + timedelta(hours=1),
    )  # fmt: skip
    for name in ("id", "procedure_id", "procedure_version", "procedure_sha256", "unit"):
        assert getattr(after, name) == getattr(before, name)
    assert (after.seq, after.state) == (2, "proposed")
