"""``yishi verify`` as a user runs it: ok, tampered, missing file.

The command line runs in process (``cli_support.completed``); the tampered log is
given to the installed script, whose exit status 1 a shell script relies on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from audit_samples import sample_log
from cli_support import completed

from engine.audit import write_records

YISHI = Path(sys.executable).with_name("yishi")


def _verify(path: Path) -> subprocess.CompletedProcess[str]:
    return completed("verify", path)


def _verify_script(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(YISHI), "verify", str(path)], check=False, capture_output=True, text=True, timeout=60
    )


def test_an_intact_log_prints_ok_what_it_proves_and_each_head(tmp_path: Path) -> None:
    """Rule: exit 0, "ok: N records in M cases", that an unsigned chain proves only
    self-consistency, and one ``head CASE:SEQ:HASH`` line per case to keep."""
    path = tmp_path / "audit.jsonl"
    records = sample_log()
    write_records(path, records)
    ran = _verify(path)
    heads = {}
    for record in records:
        heads[record["case"]] = f"head {record['case']}:{record['seq']}:{record['hash']}"
    expected = [
        "ok: 9 records in 3 cases: chains intact (unsigned: proves only self-consistency)",
        *(heads[case] for case in sorted(heads)),
    ]
    assert (0, expected) == (ran.returncode, ran.stdout.splitlines())


@pytest.mark.subprocess
def test_a_tampered_log_names_file_line_case_and_seq(tmp_path: Path) -> None:
    """Rule: exit 1 with FILE:LINE: case C seq S: what is wrong (from the installed script)."""
    path = tmp_path / "audit.jsonl"
    write_records(path, sample_log())
    path.write_bytes(path.read_bytes().replace(b"41/58", b"40/58", 1))
    ran = _verify_script(path)
    assert ran.returncode == 1
    assert ran.stdout.startswith(f"{path}:4: case c-2024-001 seq 2: hash mismatch")
    assert "Traceback" not in ran.stderr


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    """Rule: an unreadable file is a clear message and a non-zero exit, never a traceback."""
    ran = _verify(tmp_path / "missing.jsonl")
    assert ran.returncode == 2
    assert "no such file" in ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
