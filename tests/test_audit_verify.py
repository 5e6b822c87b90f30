"""verify: every chain, every byte (engine.audit.verify).

The oracle for tampering: a log verifies exactly when every line is an original
line and, per case, its lines are a prefix of that case's original lines (a
chain cannot show records missing from its end; see docs/audit-log.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from audit_samples import sample_log, single
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit import (
    GENESIS,
    ChainHead,
    encode_line,
    seal,
    verify_bytes,
    verify_file,
    verify_records,
)

RECORDS = sample_log()
LINES = [encode_line(r) for r in RECORDS]
LOG = b"".join(LINES)
ROOT = Path(__file__).resolve().parent.parent


def _accepted(lines: list[bytes]) -> bool:
    """The oracle: original lines only, each case a prefix of its original chain."""
    by_case: dict[str, list[bytes]] = {}
    for line in lines:
        if line not in LINES:
            return False
        by_case.setdefault(json.loads(line)["case"], []).append(line)
    for case, got in by_case.items():
        original = [line for line in LINES if json.loads(line)["case"] == case]
        if original[: len(got)] != got:
            return False
    return True


def test_an_intact_log_verifies_with_counts_and_heads() -> None:
    """Rule: an untouched log of interleaved cases is ok; heads are each case's last record."""
    report = verify_bytes(LOG)
    assert (report.ok, report.records, report.cases, report.failure) == (True, 9, 3, None)
    assert [(h.case, h.seq) for h in report.heads] == [
        ("c-2024-001", 4),
        ("c-2024-002", 3),
        ("c-2024-003", 2),
    ]
    assert report.message == "ok: 9 records in 3 cases"


def test_an_empty_log_is_an_error() -> None:
    """Rule: a log with no record proves nothing and is reported (``empty-log``), never "ok".

    (Changed: it used to verify; an emptied file must not pass as an intact trail.)
    """
    report = verify_bytes(b"")
    assert report.failure is not None
    assert (report.failure.kind, report.failure.line, report.records) == ("empty-log", 0, 0)


@pytest.mark.slow
def test_every_single_byte_change_in_a_small_file_is_caught_at_its_line() -> None:
    """Rule: each of the 255 other values at every byte of a one-record file fails verify."""
    line = encode_line(single())
    for position in range(len(line)):
        for value in range(256):
            if value == line[position]:
                continue
            changed = line[:position] + bytes([value]) + line[position + 1 :]
            report = verify_bytes(changed)
            assert not report.ok, (position, value)
            assert report.failure is not None and report.failure.line == 1


@pytest.mark.slow
def test_every_position_of_a_multi_case_file_is_guarded() -> None:
    """Rule: a changed byte anywhere is reported at the line holding it, naming its record."""
    starts = [sum(len(x) for x in LINES[:i]) for i in range(len(LINES))]
    for position in range(len(LOG)):
        index = max(i for i, start in enumerate(starts) if start <= position)
        for flip in (0x01, 0x20, 0x80):
            changed = bytearray(LOG)
            changed[position] ^= flip
            report = verify_bytes(bytes(changed))
            assert report.failure is not None, (position, flip)
            assert index + 1 == report.failure.line, (position, flip, report.failure)


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_random_byte_flips_are_caught(data: st.DataObject) -> None:
    """Rule: random byte changes fail at the first changed line; intact lines before pass."""
    changed = bytearray(LOG)
    positions = data.draw(st.lists(st.integers(0, len(LOG) - 1), min_size=1, max_size=4))
    for position in positions:
        changed[position] = data.draw(st.integers(0, 255).filter(lambda v, p=position: v != LOG[p]))
    report = verify_bytes(bytes(changed))
    first = min(positions)
    line = LOG[:first].count(b"\n") + 1
    assert report.failure is not None
    assert line == report.failure.line


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_dropped_reordered_and_duplicated_lines(data: st.DataObject) -> None:
    """Rule: verify passes exactly when the oracle does; the failure names the right case."""
    lines = list(LINES)
    for _ in range(data.draw(st.integers(1, 3))):
        operation = data.draw(st.sampled_from(["drop", "swap", "duplicate"]))
        i = data.draw(st.integers(0, len(lines) - 1))
        j = data.draw(st.integers(0, len(lines) - 1))
        if operation == "drop" and len(lines) > 1:
            del lines[i]
        elif operation == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(j, lines[i])
    report = verify_bytes(b"".join(lines))
    assert _accepted(lines) == report.ok
    if report.failure is not None:
        bad = json.loads(lines[report.failure.line - 1])
        assert (bad["case"], bad["seq"]) == (report.failure.case, report.failure.seq)
        assert _accepted(lines[: report.failure.line - 1])


def test_a_dropped_record_is_a_seq_gap_at_the_next_one() -> None:
    """Rule: a missing middle record shows as a seq gap at the case's next record."""
    report = verify_bytes(b"".join(LINES[:3] + LINES[4:]))  # drops c-2024-001 seq 2
    failure = report.failure
    assert failure is not None
    assert (
        failure.kind,
        failure.case,
        failure.seq,
        failure.line,
    ) == ("seq-gap", "c-2024-001", 3, 6)


@given(st.integers(0, len(LOG)))
@settings(max_examples=200, deadline=None)
def test_truncation_at_any_byte(cut: int) -> None:
    """Rule: cutting inside a line is a truncated last line; cutting at a line end is a prefix."""
    report = verify_bytes(LOG[:cut])
    if cut == 0:
        assert report.failure is not None
        assert report.failure.kind == "empty-log"
        return
    if LOG[cut - 1 : cut] == b"\n":
        assert report.ok
        return
    line = LOG[:cut].count(b"\n") + 1
    assert report.failure is not None
    assert ("truncated-line", line) == (report.failure.kind, report.failure.line)
    original = RECORDS[line - 1]
    if report.failure.seq is not None:  # read from the damaged line only when unambiguous
        assert (original["case"], original["seq"]) == (report.failure.case, report.failure.seq)


def _resealed(index: int, **changes: Any) -> list[bytes]:
    """The log with record ``index`` changed and sealed again (hash recomputed)."""
    record = {k: v for k, v in RECORDS[index].items() if k not in ("hash", "prev")}
    record.update(changes)
    prev = changes.pop("prev", RECORDS[index]["prev"])
    body = {**record, "prev": prev}
    from engine.audit.canonical import canonical_bytes

    digest = __import__("hashlib").sha256(canonical_bytes(body)).hexdigest()
    lines = list(LINES)
    lines[index] = encode_line({**body, "hash": digest})
    return lines


@pytest.mark.parametrize(
    ("build", "kind", "line"),
    [
        (lambda: _resealed(3, prev="ab" * 32), "broken-link", 4),
        (lambda: _resealed(0, seq=5), "bad-first-record", 1),
        (lambda: _resealed(1, seq="1"), "bad-field-type", 2),
        (lambda: _resealed(1, v=2), "unknown-version", 2),
        (lambda: _resealed(1, extra="x"), "unknown-field", 2),
        (lambda: [*LINES[:1], LINES[1].replace(b'"v":1}', b'"v":1} ')], "not-canonical", 2),
        (
            lambda: [LINES[0].replace("党支部".encode(), b"\\u515a\\u652f\\u90e8")],
            "not-canonical",
            1,
        ),
        (
            lambda: [LINES[0].replace(b'"to":"proposed"', b'"to":"proposed","to":"proposed"')],
            "not-canonical",
            1,
        ),
        (lambda: [LINES[0].replace(b'"v":1', b'"v":1.0')], "bad-field-type", 1),
        (lambda: [LINES[0].replace(b'"v":1', b'"v":9007199254740993')], "bad-field-type", 1),
        (lambda: [LINES[0], LINES[0]], "duplicate-seq", 2),
        (lambda: [LINES[0], LINES[3], LINES[6], LINES[3]], "out-of-order", 4),
        (lambda: [LINES[3]], "bad-first-record", 1),
        (lambda: [LINES[0][:-1] + b"\r\n"], "not-canonical", 1),
        (lambda: [b"\n"], "invalid-json", 1),
        (lambda: [b"\xff\n"], "invalid-utf8", 1),
        (lambda: [b"[]\n"], "not-an-object", 1),
    ],
)
def test_each_failure_kind(build: Any, kind: str, line: int) -> None:
    """Rule: each kind of damage is reported as its own kind, at its line."""
    report = verify_bytes(b"".join(build()))
    assert report.failure is not None
    assert (kind, line) == (report.failure.kind, report.failure.line), report.failure


def test_a_forged_but_resealed_record_still_breaks_the_next_link() -> None:
    """Rule: rewriting a record (even with a fresh hash) breaks its successor's prev."""
    report = verify_bytes(b"".join(_resealed(0, to="voting")))
    failure = report.failure
    assert failure is not None
    assert (
        failure.kind,
        failure.case,
        failure.seq,
        failure.line,
    ) == ("broken-link", "c-2024-001", 2, 4)


def test_verify_records_checks_records_in_memory() -> None:
    """Rule: in-memory records get the same field, hash and chain checks, by position."""
    assert verify_records(RECORDS).ok
    changed = [dict(r) for r in RECORDS]
    changed[4]["payload"] = {"意见": "改过"}
    failure = verify_records(changed).failure
    assert failure is not None
    assert (
        failure.kind,
        failure.line,
        failure.case,
        failure.seq,
    ) == ("hash-mismatch", 5, "c-2024-002", 2)


def test_verify_file_reads_from_disk(tmp_path: Path) -> None:
    """Rule: verify_file gives the same report as verifying the bytes."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(LOG)
    assert verify_bytes(LOG) == verify_file(path)


def test_chain_heads_continue_a_stored_chain() -> None:
    """Rule: ChainHead.of(last record) seals the next record onto a verified log."""
    head = ChainHead.of(RECORDS[-1])
    fields = {k: v for k, v in RECORDS[-1].items() if k not in ("hash", "prev")}
    fields.update(seq=head.seq + 1, kind="event.applied")
    sealed, _ = head.seal(fields)
    assert verify_bytes(LOG + encode_line(sealed)).ok
    assert seal(fields, head.hash)["prev"] != GENESIS


def _independent_snippet() -> str:
    text = (ROOT / "docs" / "audit-log.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- independent-check -->\n```python\n(.*?)```", text, re.S)
    assert found is not None
    return found.group(1)


def test_the_documented_independent_check_agrees(tmp_path: Path) -> None:
    """Rule: the doc's hashlib + rfc8785 snippet accepts an intact log, rejects a tampered one."""
    code = _independent_snippet()
    assert len([x for x in code.splitlines() if x.strip()]) <= 13
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_bytes(LOG)
    bad.write_bytes(LOG.replace(b"41/58", b"42/58", 1))
    ran = subprocess.run(
        [sys.executable, "-c", code, str(good)], check=False, capture_output=True, text=True
    )
    assert (ran.returncode, ran.stdout) == (0, "ok: 9 records in 3 cases\n")
    ran = subprocess.run(
        [sys.executable, "-c", code, str(bad)], check=False, capture_output=True, text=True
    )
    assert ran.returncode != 0
    assert "line 4" in ran.stderr


def test_a_lone_surrogate_escape_is_reported_not_raised() -> None:
    r"""A ``\ud800`` escape decodes to a string with no UTF-8 form: verify reports the line
    (not canonical, naming the field) instead of failing with an encoder error."""
    from engine.audit.jsonl import encode_line

    line = encode_line(single())
    assert b'"c-2024-009"' in line
    forged = line.replace(b'"c-2024-009"', b'"c-2024-\\ud800"', 1)

    report = verify_bytes(forged)

    assert not report.ok
    assert report.failure is not None
    assert report.failure.kind == "not-canonical"
    assert "lone surrogate" in report.failure.message
