"""Specification: records name the engine that wrote them; replay tells a changed engine
from a changed record; logs written before records carried it still verify and replay."""

from __future__ import annotations

import hashlib
from typing import Any

from runtime_support import FOUR_DATA, SECRETARY, T0, four, new_engine, open_four

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import GENESIS
from engine.audit.jsonl import encode_line
from engine.audit.verify import verify_bytes
from engine.runtime.provenance import provenance
from engine.runtime.replay import replay_records
from engine.runtime.transfer import import_log


def _records() -> list[dict[str, Any]]:
    engine, _clock = new_engine()
    open_four(engine, state="reviewed")
    return [dict(r) for r in engine.records("c1")]


def _rechain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prev, out = GENESIS, []
    for record in records:
        body = {k: v for k, v in record.items() if k != "hash"}
        body["prev"] = prev
        digest = hashlib.sha256(canonical_bytes(body)).hexdigest()
        out.append({**body, "hash": digest})
        prev = digest
    return out


def _lookup(sha256: str) -> Any:
    return four() if sha256 == four().procedure.sha256 else None


def test_every_record_names_the_yishi_version_and_registry_digest() -> None:
    """Rule: each record carries engine = {yishi, registry}, the running engine's."""
    records = _records()
    now = provenance()
    assert len(now["registry"]) == 64
    assert all(r["engine"] == now for r in records)


def test_a_log_without_engine_fields_still_verifies_replays_and_imports() -> None:
    """Rule: records written before provenance existed (no ``engine``) verify, replay and
    import unchanged."""
    old = _rechain([{k: v for k, v in r.items() if k != "engine"} for r in _records()])
    log = b"".join(encode_line(r) for r in old)
    assert verify_bytes(log).ok
    assert replay_records(old, _lookup).ok
    engine, _clock = new_engine()
    engine.register(four())
    imported = import_log(engine, log.splitlines(keepends=True))
    assert [(i.case, i.seq) for i in imported] == [("c1", len(old))]
    assert engine.store.export_lines("c1") == log.splitlines(keepends=True)


def test_replay_names_the_changed_engine_when_a_record_diverges() -> None:
    """Rule: when a record written by another engine does not replay, the divergence says
    the engine changed, naming both versions."""
    records = _records()
    records[2]["engine"] = {"yishi": "0.0.9", "registry": "f" * 64}
    records[2]["to"] = "somewhere-else"
    report = replay_records(_rechain(records), _lookup)
    assert report.divergence is not None
    assert report.divergence.seq == 3
    assert report.divergence.engine is not None
    assert "the engine changed" in report.divergence.engine
    assert "0.0.9" in str(report.divergence)


def test_a_different_engine_with_the_same_outcomes_replays_clean() -> None:
    """Rule: ``engine`` names the writer, not the outcome: another engine's identical
    records replay without divergence."""
    records = _records()
    for record in records:
        record["engine"] = {"yishi": "0.0.9", "registry": "f" * 64}
    report = replay_records(_rechain(records), _lookup)
    assert report.ok
    assert report.procedures == (
        (four().procedure.id, four().procedure.version, four().procedure.sha256),
    )


def test_the_same_engine_with_a_changed_record_does_not_blame_the_engine() -> None:
    """Rule: when the record names this very engine, the divergence has no engine note."""
    records = _records()
    records[1]["payload"] = {"present": 4, "yes": 1}
    report = replay_records(_rechain(records), _lookup)
    assert report.divergence is not None
    assert report.divergence.engine is None


def test_an_opened_case_record_carries_provenance_too() -> None:
    """Rule: the case.opened record names the engine like every other record."""
    engine, _clock = new_engine()
    engine.open_case(four(), "c9", FOUR_DATA, actor=SECRETARY, at=T0)
    assert engine.records("c9")[0]["engine"] == provenance()
