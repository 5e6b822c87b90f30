"""Specification: signed records, and the insider test (what a key and a kept head catch).

An insider with write access to the store can rewrite a trail and re-seal every
hash. The unkeyed chain cannot see that (shown here, as documentation of its
limit); a signature by the writer's key, or a head published before the forgery,
catches every such forgery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from runtime_support import (
    COMMITTEE,
    DIRECTOR,
    FOUR_DATA,
    FOUR_PATH,
    SECRETARY,
    SUPERVISOR,
    T0,
    four,
)

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import GENESIS
from engine.audit.jsonl import encode_line
from engine.audit.signing import Signer, Verifier
from engine.audit.verify import CaseHead, VerifyReport, verify_bytes
from engine.definition.loader import load_source
from engine.errors import VersionTaken
from engine.runtime.clock import FixedClock, format_time
from engine.runtime.engine import Engine
from engine.storage.memory import MemoryStore

WRITER = Signer.generate()
FORGER = Signer.generate()
AUDITOR = Verifier(WRITER.public)


def _signed_trail(signer: Signer | None = WRITER) -> list[dict[str, Any]]:
    """A 四议两公开 case to "resolved", with one refusal at seq 3, signed when ``signer``."""
    engine = Engine(store=MemoryStore(), clock=FixedClock(T0), signer=signer)
    engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)
    steps = [
        ("propose", SECRETARY, {"present": 4, "yes": 3}),
        ("deliberate", SUPERVISOR, {"present": 9, "yes": 8}),
        ("deliberate", SECRETARY, {"present": 9, "yes": 8}),
        ("review", SECRETARY, {"present": 30, "yes": 21}),
        ("resolve", DIRECTOR, {"present": 38, "yes": 20}),
    ]
    for hours, (event, actor, payload) in enumerate(steps, 1):
        engine.fire("c1", event, actor=actor, payload=payload, at=T0 + timedelta(hours=hours))
    records = engine.records("c1")
    assert [r["kind"] for r in records][2] == "event.refused"
    return [dict(r) for r in records]


def _log(records: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_line(r) for r in records)


def _head(records: list[dict[str, Any]]) -> CaseHead:
    last = records[-1]
    return CaseHead(case=last["case"], seq=last["seq"], hash=last["hash"])


def _failure_kind(report: VerifyReport) -> str | None:
    return None if report.failure is None else report.failure.kind


# -- signing ------------------------------------------------------------------------------------


def test_every_record_a_keyed_engine_writes_is_signed_and_verifies_with_its_key() -> None:
    """Rule: an engine with a signer signs every record (opened, applied, refused); verify
    with the public key passes and names the key."""
    records = _signed_trail()
    assert all(r["signature"]["key"] == WRITER.fingerprint for r in records)
    report = verify_bytes(_log(records), verifier=AUDITOR)
    assert (True, WRITER.fingerprint, 6) == (report.ok, report.key, report.signed)
    assert f"signatures by key {WRITER.fingerprint[:16]}… valid up to each head" in report.proves


def test_an_unkeyed_check_of_a_signed_log_says_signatures_were_not_checked() -> None:
    """Rule: without the public key, verify says the signatures went unchecked and that
    the chain proves only self-consistency."""
    report = verify_bytes(_log(_signed_trail()))
    assert report.ok
    assert "signatures present but not checked" in report.proves
    assert "self-consistency" in report.proves


def test_an_unsigned_log_says_it_proves_only_self_consistency() -> None:
    """Rule: an unsigned chain is reported as proving only that it matches itself."""
    report = verify_bytes(_log(_signed_trail(None)))
    assert report.proves == "chains intact (unsigned: proves only self-consistency)"


def test_an_unsigned_log_fails_when_a_key_is_required() -> None:
    """Rule: with a key given, a case with no record signed by it fails (unsigned-record)."""
    report = verify_bytes(_log(_signed_trail(None)), verifier=AUDITOR)
    assert _failure_kind(report) == "unsigned-record"
    assert report.failure is not None
    assert "no record of this case is signed" in report.failure.message


def test_another_key_is_named_in_the_failure() -> None:
    """Rule: a signature by another key fails, naming both fingerprints (short form)."""
    report = verify_bytes(_log(_signed_trail(FORGER)), verifier=AUDITOR)
    assert _failure_kind(report) == "bad-signature"
    assert report.failure is not None
    assert FORGER.fingerprint[:16] in report.failure.message
    assert WRITER.fingerprint[:16] in report.failure.message
    assert report.failure.seq == 1


def test_an_unsigned_prefix_is_vouched_for_by_the_first_signature() -> None:
    """Rule: records before a case's first signed record are covered by it (its signature
    covers ``prev``, hence every earlier hash): a case continued with a key verifies."""
    store = MemoryStore()
    Engine(store=store).open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)
    keyed = Engine(store=store, signer=WRITER)
    keyed.fire("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=T0)
    records = store.records("c1")
    assert ("signature" in records[0], "signature" in records[1]) == (False, True)
    assert verify_bytes(_log(records), verifier=AUDITOR).ok


def test_a_case_that_ends_unsigned_after_a_signed_record_fails() -> None:
    """Rule: once a case has a signed record, a later unsigned one fails (unsigned-record):
    anyone could have appended it."""
    store = MemoryStore()
    keyed = Engine(store=store, signer=WRITER)
    keyed.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)
    Engine(store=store).fire(
        "c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=T0
    )
    report = verify_bytes(_log(store.records("c1")), verifier=AUDITOR)
    assert (_failure_kind(report), report.failure and report.failure.seq) == ("unsigned-record", 2)


# -- the insider test ---------------------------------------------------------------------------


def _forge_counts(records: list[dict[str, Any]]) -> int:
    records[4]["payload"] = {"present": 30, "yes": 29}
    return 4


def _delete_refusal(records: list[dict[str, Any]]) -> int:
    del records[2]
    for index in range(2, len(records)):
        records[index]["seq"] = index + 1
    return 2


def _change_actor(records: list[dict[str, Any]]) -> int:
    records[1]["actor"] = {"id": "冒名者", "roles": ["branch_secretary"]}
    return 1


def _change_roles(records: list[dict[str, Any]]) -> int:
    records[5]["actor"] = {"id": DIRECTOR.id, "roles": ["branch_secretary"]}
    return 5


def _change_time(records: list[dict[str, Any]]) -> int:
    records[3]["at"] = format_time(T0 + timedelta(hours=2, minutes=30))
    return 3


def _laxer_text() -> str:
    text = FOUR_PATH.read_text(encoding="utf-8")
    laxer = text.replace('more_than: "1/2"', 'more_than: "1/4"', 1)
    assert laxer != text
    return laxer


def _point_at_laxer_procedure(records: list[dict[str, Any]]) -> int:
    laxer = load_source(_laxer_text(), "laxer.yaml").procedure
    assert (laxer.id, laxer.version) == (four().procedure.id, four().procedure.version)
    for record in records:
        record["procedure"] = {**record["procedure"], "sha256": laxer.sha256}
    return 0


FORGERIES: dict[str, Callable[[list[dict[str, Any]]], int]] = {
    "forged counts": _forge_counts,
    "deleted refusal": _delete_refusal,
    "changed actor": _change_actor,
    "changed roles": _change_roles,
    "changed time": _change_time,
    "laxer procedure under the same id and version": _point_at_laxer_procedure,
}


def _reseal(records: list[dict[str, Any]], start: int, forger: str) -> list[dict[str, Any]]:
    """Re-chain from ``start`` as an insider without the writer's key would: dropping the
    signatures, keeping the stale ones, or signing with a key of their own."""
    prev = records[start - 1]["hash"] if start else GENESIS
    out = records[:start]
    for record in records[start:]:
        body = {k: v for k, v in record.items() if k not in ("hash", "signature")}
        body["prev"] = prev
        if forger == "stale signature":
            body["signature"] = record["signature"]
        elif forger == "own key":
            body["signature"] = FORGER.sign_record(body)
        digest = hashlib.sha256(canonical_bytes(body)).hexdigest()
        out.append({**body, "hash": digest})
        prev = digest
    return out


@pytest.mark.parametrize("forger", ["dropped signatures", "stale signature", "own key"])
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_insider_forgeries_pass_the_bare_chain_but_not_a_key_or_a_kept_head(
    forgery: str, forger: str
) -> None:
    """Rule (the insider test): a re-sealed trail with forged counts, a deleted refusal,
    a changed actor, roles or time, or a pointer to a laxer procedure under the same id
    and version still verifies as a bare chain (its documented limit), but fails verify
    with the writer's public key, and fails against the head kept before the forgery."""
    original = _signed_trail()
    kept = _head(original)
    records = [dict(r) for r in original]
    start = FORGERIES[forgery](records)
    forged = _log(_reseal(records, start, forger))

    assert verify_bytes(forged).ok, "the bare chain cannot tell (documented limit)"
    keyed = verify_bytes(forged, verifier=AUDITOR)
    assert _failure_kind(keyed) in {"bad-signature", "unsigned-record"}
    checked = verify_bytes(forged, since=[kept])
    assert _failure_kind(checked) in {"head-mismatch", "head-missing"}


def test_the_laxer_text_cannot_be_registered_under_the_same_id_and_version() -> None:
    """Rule: a store refuses another text under an existing id and version, naming both
    sha256, so a trail cannot be pointed at a laxer text that took the same name."""
    engine = Engine(store=MemoryStore())
    engine.register(four())
    laxer = load_source(_laxer_text(), "laxer.yaml")
    with pytest.raises(VersionTaken) as caught:
        engine.register(laxer)
    message = str(caught.value)
    assert four().procedure.sha256 in message
    assert laxer.procedure.sha256 in message
    assert [ref.sha256 for ref in engine.store.procedures()] == [four().procedure.sha256]


def test_a_verifier_accepts_only_its_own_untouched_signature() -> None:
    """Rule: a signature checks out for the exact bytes signed and no others."""
    record = _signed_trail()[1]
    body = {k: v for k, v in record.items() if k not in ("hash", "signature")}
    assert AUDITOR.record_problem(record["signature"], canonical_bytes(body)) is None
    body["to"] = "elsewhere"
    assert AUDITOR.record_problem(record["signature"], canonical_bytes(body)) is not None
    broken = {**record["signature"], "ed25519": "not base64!"}
    assert AUDITOR.record_problem(broken, canonical_bytes(body)) == "the signature is not base64"


def test_the_committee_step_is_signed_like_any_other() -> None:
    """Rule: signatures do not depend on who acts: a later committee step is signed too."""
    engine = Engine(store=MemoryStore(), signer=WRITER)
    engine.open_case(four(), "c2", FOUR_DATA, actor=SECRETARY, at=T0)
    outcome = engine.fire("c2", "propose", actor=COMMITTEE, payload={}, at=T0)
    assert not outcome.applied
    assert verify_bytes(_log(engine.records("c2")), verifier=AUDITOR).ok


def test_a_signature_checks_out_independently_as_documented() -> None:
    """Rule (docs/audit-log.md, Signatures): ``signature.key`` is the sha256 of the raw
    public key; ``signature.ed25519`` signs "yishi audit record v1\\n" + the RFC 8785 JSON
    of the record without hash and signature; the hash covers the signature."""
    import base64

    import rfc8785
    from cryptography.hazmat.primitives import serialization

    record = _signed_trail()[3]
    raw = WRITER.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert record["signature"]["key"] == hashlib.sha256(raw).hexdigest()
    body = {k: v for k, v in record.items() if k not in ("hash", "signature")}
    message = b"yishi audit record v1\n" + rfc8785.dumps(body)
    WRITER.public.verify(base64.b64decode(record["signature"]["ed25519"]), message)
    with_signature = {k: v for k, v in record.items() if k != "hash"}
    assert hashlib.sha256(rfc8785.dumps(with_signature)).hexdigest() == record["hash"]
