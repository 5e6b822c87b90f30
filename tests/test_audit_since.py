"""Specification: incremental verification against kept heads, and checkpoint files.

A head ``CASE:SEQ:HASH`` kept from an earlier check pins every record of its case
up to that seq. ``verify --since`` must catch any record at or before the head
removed, reordered or edited (even re-sealed), and accept records appended after.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from audit_samples import sample_log

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import GENESIS
from engine.audit.checkpoint import (
    CheckpointInvalid,
    checkpoint,
    encode_checkpoint,
    parse_head,
    read_heads,
)
from engine.audit.jsonl import encode_line
from engine.audit.signing import Signer, Verifier
from engine.audit.verify import CaseHead, verify_bytes

CASE = "c-2024-001"
RECORDS = [r for r in sample_log(1) if r["case"] == CASE]
KEPT_AT = 2
"""The kept head is the case's seq 2 record; later records were appended after the check."""
KEPT = CaseHead(case=CASE, seq=KEPT_AT, hash=RECORDS[KEPT_AT - 1]["hash"])


def _reseal(records: list[dict[str, Any]]) -> bytes:
    """Renumber and re-chain every record, as a forger recomputing hashes would."""
    prev, out = GENESIS, []
    for seq, record in enumerate(records, 1):
        body = {k: v for k, v in record.items() if k != "hash"}
        body.update(seq=seq, prev=prev)
        digest = hashlib.sha256(canonical_bytes(body)).hexdigest()
        out.append(encode_line({**body, "hash": digest}))
        prev = digest
    return b"".join(out)


def test_the_sample_case_has_records_after_the_kept_head() -> None:
    """Precondition of this module: records exist both at/before and after the kept head."""
    assert len(RECORDS) > KEPT_AT >= 2


def test_appending_after_the_kept_head_is_accepted_and_counted() -> None:
    """Rule: records after the kept head are verified and counted, the head found unchanged."""
    report = verify_bytes(_reseal(RECORDS), since=[KEPT])
    assert (True, 1, len(RECORDS) - KEPT_AT) == (report.ok, report.kept, report.after_kept)
    assert "1 kept head(s) unchanged and present" in report.proves


def test_a_log_ending_exactly_at_the_kept_head_is_accepted() -> None:
    """Rule (boundary): nothing appended since the check is fine (0 records after)."""
    report = verify_bytes(_reseal(RECORDS[:KEPT_AT]), since=[KEPT])
    assert (report.ok, report.after_kept) == (True, 0)


@pytest.mark.parametrize("index", range(KEPT_AT))
def test_removing_a_record_at_or_before_the_head_is_caught(index: int) -> None:
    """Rule: removing any record at or before the kept head (and re-sealing) is caught."""
    records = [r for i, r in enumerate(RECORDS) if i != index]
    report = verify_bytes(_reseal(records), since=[KEPT])
    assert report.failure is not None
    assert report.failure.kind in {"head-mismatch", "bad-first-record"}


@pytest.mark.parametrize("index", range(KEPT_AT))
def test_editing_a_record_at_or_before_the_head_is_caught(index: int) -> None:
    """Rule: editing any record at or before the kept head, even re-sealed, is caught."""
    records = [dict(r) for r in RECORDS]
    records[index]["actor"] = {"id": "someone-else", "roles": []}
    report = verify_bytes(_reseal(records), since=[KEPT])
    assert report.failure is not None
    assert report.failure.kind == "head-mismatch"
    assert report.failure.seq == KEPT_AT


@pytest.mark.parametrize("index", range(KEPT_AT))
def test_reordering_at_or_before_the_head_is_caught(index: int) -> None:
    """Rule: swapping a record at or before the head with its successor is caught."""
    records = list(RECORDS)
    records[index], records[index + 1] = records[index + 1], records[index]
    report = verify_bytes(_reseal(records), since=[KEPT])
    assert report.failure is not None
    # Swapping seq 1 away leaves a case that does not start with case.opened.
    assert report.failure.kind in {"head-mismatch", "bad-first-record"}


def test_truncating_before_the_head_is_caught_as_missing() -> None:
    """Rule: a case that now ends before its kept head lost records (head-missing)."""
    report = verify_bytes(_reseal(RECORDS[: KEPT_AT - 1]), since=[KEPT])
    assert report.failure is not None
    assert (report.failure.kind, report.failure.seq) == ("head-missing", 1)
    assert "records were removed" in report.failure.message


def test_a_kept_case_missing_from_the_log_is_caught() -> None:
    """Rule: a kept head of a case the log no longer holds is reported (head-missing)."""
    other = CaseHead(case="c-gone", seq=3, hash="a" * 64)
    report = verify_bytes(_reseal(RECORDS), since=[KEPT, other])
    assert report.failure is not None
    assert (report.failure.kind, report.failure.case) == ("head-missing", "c-gone")


def test_a_head_parses_with_colons_in_the_case_id() -> None:
    """Rule: CASE:SEQ:HASH splits from the right; a malformed head is a ValueError."""
    head = parse_head(f"村:2024:001:7:{'b' * 64}")
    assert (head.case, head.seq, head.hash) == ("村:2024:001", 7, "b" * 64)
    for bad in ("c:0:" + "b" * 64, "c:1:" + "B" * 64, "c:1:abc", "no-colons"):
        with pytest.raises(ValueError, match="not a head"):
            parse_head(bad)


def test_a_heads_text_file_takes_what_verify_prints(tmp_path: Path) -> None:
    """Rule: a heads file reads ``head CASE:SEQ:HASH`` lines as verify prints them; the
    "ok:" line, blanks and # comments are skipped; a bad line is named by file:line."""
    path = tmp_path / "heads.txt"
    path.write_text(f"ok: 3 records in 1 cases: …\n# kept 2026-12-01\n\nhead {KEPT}\n")
    assert read_heads(path).heads == (KEPT,)
    path.write_text(f"head {KEPT}\nhead nonsense\n")
    with pytest.raises(CheckpointInvalid, match=r"heads\.txt:2: "):
        read_heads(path)


def test_a_checkpoint_file_round_trips_with_digest_and_signature(tmp_path: Path) -> None:
    """Rule: a checkpoint lists heads with its own digest; signed, it verifies with the
    writer's public key; any change to a head breaks its digest."""
    signer = Signer.generate()
    made = checkpoint([(KEPT, RECORDS[KEPT_AT - 1]["at"])], "2026-12-01T09:00:00+08:00", signer)
    path = tmp_path / "checkpoint.json"
    path.write_bytes(encode_checkpoint(made))

    read = read_heads(path, Verifier(signer.public))
    assert (read.heads, read.signed_by) == ((KEPT,), signer.fingerprint)

    tampered = json.loads(path.read_text())
    tampered["heads"][0]["seq"] = 1
    path.write_text(json.dumps(tampered))
    with pytest.raises(CheckpointInvalid, match="changed after it was made"):
        read_heads(path)


def test_a_checkpoint_must_be_signed_by_the_given_key(tmp_path: Path) -> None:
    """Rule: with a key given, an unsigned checkpoint or one signed by another key is refused."""
    path = tmp_path / "checkpoint.json"
    path.write_bytes(encode_checkpoint(checkpoint([(KEPT, "x")], "2026-12-01T09:00:00Z")))
    auditor = Verifier(Signer.generate().public)
    with pytest.raises(CheckpointInvalid, match="not signed"):
        read_heads(path, auditor)
    path.write_bytes(
        encode_checkpoint(checkpoint([(KEPT, "x")], "2026-12-01T09:00:00Z", Signer.generate()))
    )
    with pytest.raises(CheckpointInvalid, match="not by the key given"):
        read_heads(path, auditor)
