"""The JSON Lines layout, appending, atomic writes and line errors (engine.audit.jsonl)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import rfc8785
from audit_samples import sample_log, single

from engine.audit import (
    LineError,
    LogUnreadable,
    RecordInvalid,
    append_records,
    encode_line,
    parse_line,
    read_file,
    read_records,
    write_records,
)


def test_a_line_is_the_hash_then_the_canonical_bytes() -> None:
    """Rule: line = {"hash":"H", + canonical bytes without hash minus "{" + newline."""
    record = single()
    body = rfc8785.dumps({k: v for k, v in record.items() if k != "hash"})
    line = encode_line(record)
    assert b'{"hash":"' + record["hash"].encode() + b'",' + body[1:] + b"\n" == line
    assert "小额工程招标".encode() in line  # non-ASCII is kept, not escaped
    assert b": " not in line and b", " not in line  # compact (the sample text has neither)


def test_a_record_changed_after_sealing_is_not_written() -> None:
    """Rule: the writer refuses a record whose hash no longer matches its content."""
    record = single()
    record["to"] = "elsewhere"
    with pytest.raises(RecordInvalid) as caught:
        encode_line(record)
    assert caught.value.kind == "hash-mismatch"


def test_append_then_read_gives_the_records_back(tmp_path: Path) -> None:
    """Rule: append adds whole lines; reading yields (line number, record) in order."""
    path = tmp_path / "audit.jsonl"
    records = sample_log()
    assert append_records(path, records[:4], fsync=True) == 4
    assert append_records(path, records[4:]) == 5
    assert list(enumerate(records, 1)) == list(read_records(path))
    assert records == read_file(path)


def test_append_writes_nothing_when_a_record_is_bad(tmp_path: Path) -> None:
    """Rule: every line is encoded before the file is touched."""
    path = tmp_path / "audit.jsonl"
    append_records(path, sample_log()[:1])
    before = path.read_bytes()
    bad = dict(sample_log()[1], to="tampered")
    with pytest.raises(RecordInvalid):
        append_records(path, [sample_log()[1], bad])
    assert before == path.read_bytes()


def test_write_records_replaces_the_file_atomically(tmp_path: Path) -> None:
    """Rule: a whole-file write leaves the old file intact on error and no temp file behind."""
    path = tmp_path / "audit.jsonl"
    assert write_records(path, sample_log()) == 9
    before = path.read_bytes()
    with pytest.raises(RecordInvalid):
        write_records(path, [sample_log()[0], dict(sample_log()[1], seq=7)])
    assert before == path.read_bytes()
    assert os.listdir(tmp_path) == ["audit.jsonl"]


@pytest.mark.parametrize(
    ("raw", "kind", "words"),
    [
        (b'{"a":1}', "truncated-line", "no newline"),
        (b'{"a":"\xe4\xb8"}\n', "invalid-utf8", "byte 7"),
        (b'{"a":1,}\n', "invalid-json", "column 8"),
        (b"[1]\n", "not-an-object", "not list"),
        (b'{"a":0.5}\n', "invalid-json", "exact numbers"),
        (b'{"a":NaN}\n', "invalid-json", "exact numbers"),
    ],
)
def test_bad_lines_raise_precise_errors(raw: bytes, kind: str, words: str) -> None:
    """Rule: each way a line can fail to be a record has its own kind and a located message."""
    with pytest.raises(LineError) as caught:
        parse_line(raw, 3)
    assert (3, kind) == (caught.value.line, caught.value.kind)
    assert words in caught.value.message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """Rule: an unreadable log raises LogUnreadable saying why."""
    with pytest.raises(LogUnreadable) as caught:
        read_file(tmp_path / "nope.jsonl")
    assert "no such file" in str(caught.value)
