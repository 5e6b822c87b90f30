"""Specification: resuming verification after heads verified earlier (``after``).

An auditor who verified a log up to each case's head keeps the report's heads and,
at the next visit, verifies only the records appended since: each case continues
from its head. The tests split one interleaved log at every line: verifying the
first part, then the rest after its heads, finds what verifying the whole log finds.
What resuming does not prove is shown too: a record at or before a head, changed
since, is not re-checked, and the report says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_samples import sample_log

from engine.audit import CaseHead, encode_line, verify_bytes, verify_file, verify_lines
from engine.audit.signing import Signer, Verifier

LINES = [encode_line(r) for r in sample_log()]
WHOLE = verify_bytes(b"".join(LINES))


@pytest.mark.parametrize("cut", range(len(LINES) + 1))
def test_the_rest_after_the_heads_of_a_part_verifies_to_the_whole_logs_heads(cut: int) -> None:
    """Rule: at every cut, part then rest-after-its-heads ends at the heads of the whole log."""
    first = verify_lines(LINES[:cut]) if cut else None
    kept = first.heads if first is not None else ()
    rest = verify_lines(LINES[cut:], after=kept)
    assert WHOLE.ok and rest.ok, rest.message
    assert rest.heads == WHOLE.heads
    assert rest.records == len(LINES) - cut
    assert rest.resumed == len(kept)
    assert (rest.cases, rest.message) == (3, f"ok: {len(LINES) - cut} records in 3 cases")


def test_nothing_appended_is_ok_and_keeps_the_heads() -> None:
    """Rule: no record after the heads is ok (not an empty log), with the heads unchanged."""
    report = verify_lines([], after=WHOLE.heads)
    assert (report.ok, report.records, report.heads) == (True, 0, WHOLE.heads)


def test_a_record_that_does_not_link_to_its_head_is_a_broken_link() -> None:
    """Rule: the first record after a head must name the head's hash as ``prev``."""
    head = WHOLE.heads[0]
    wrong = CaseHead(case=head.case, seq=3, hash="0" * 63 + "1")
    rest = [line for line in LINES if json.loads(line)["case"] == head.case][3:]
    report = verify_lines(rest, after=[wrong])
    assert report.failure is not None
    assert (report.failure.kind, report.failure.line, report.failure.seq) == ("broken-link", 1, 4)
    assert "seq 3 (the head resumed from)" in report.failure.message


@pytest.mark.parametrize(
    ("seq", "kind"), [(2, "seq-gap"), (4, "duplicate-seq"), (9, "out-of-order")]
)
def test_a_head_that_does_not_precede_the_rest_is_caught(seq: int, kind: str) -> None:
    """Rule: the rest starts at head seq + 1: records missing, repeated or earlier are caught."""
    case = WHOLE.heads[0].case
    rest = [line for line in LINES if json.loads(line)["case"] == case][3:]  # seq 4
    report = verify_lines(rest, after=[CaseHead(case=case, seq=seq, hash="a" * 64)])
    assert report.failure is not None
    assert (report.failure.kind, report.failure.line) == (kind, 1)


def test_a_case_without_a_head_still_starts_at_seq_1() -> None:
    """Rule: a case not named in ``after`` is checked from its first record as usual."""
    first = verify_lines(LINES[:3])  # seq 1 of each case
    others = [head for head in first.heads if head.case != "c-2024-002"]
    report = verify_lines(LINES[3:], after=others)
    assert report.failure is not None
    assert (report.failure.kind, report.failure.case) == ("bad-first-record", "c-2024-002")


def test_a_forged_earlier_record_is_not_rechecked_and_the_report_says_so() -> None:
    """Limit: a record at or before a head is not read again; ``proves`` says what was not checked.

    The whole log with that record changed fails; resuming after the heads does not see it.
    """
    forged = LINES[1].replace(
        "村集体经济合作社分红方案".encode(), "村集体经济合作社分红方案（改）".encode()
    )
    assert forged != LINES[1]
    assert not verify_bytes(b"".join([LINES[0], forged, *LINES[2:]])).ok
    first = verify_lines(LINES[:5])
    report = verify_lines(LINES[5:], after=first.heads)
    assert report.ok
    assert report.proves.endswith(
        "; 3 case(s) resumed from heads verified earlier: "
        "records at or before those heads were not re-checked"
    )
    assert "resumed" not in WHOLE.proves


def test_an_appended_file_is_verified_after_the_heads_of_the_earlier_one(tmp_path: Path) -> None:
    """Rule: ``verify_file`` resumes too: the earlier file's heads, then the appended file."""
    earlier, appended = tmp_path / "earlier.jsonl", tmp_path / "appended.jsonl"
    earlier.write_bytes(b"".join(LINES[:4]))
    appended.write_bytes(b"".join(LINES[4:]))
    report = verify_file(appended, after=verify_file(earlier).heads)
    assert (report.ok, report.heads, report.records) == (True, WHOLE.heads, len(LINES) - 4)


def test_resuming_with_a_key_kept_heads_or_two_heads_of_a_case_is_refused() -> None:
    """Rule: signatures and kept heads need the records before the heads; refused, not half-done."""
    head = WHOLE.heads[0]
    verifier = Verifier(Signer.generate().public)
    with pytest.raises(ValueError, match="verify the whole log"):
        verify_lines(LINES, after=[head], verifier=verifier)
    with pytest.raises(ValueError, match="verify the whole log"):
        verify_lines(LINES, after=[head], since=[head])
    with pytest.raises(ValueError, match="two heads"):
        verify_lines(LINES, after=[head, head])
