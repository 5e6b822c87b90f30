"""Specification: ``yishi run --signing-key`` signs every record, like ``yishi case`` and ``serve``.

A scenario run into a store (``--db``) leaves a case there that later ``yishi case``
commands carry on; unsigned, the case's trail could never pass ``verify --public-key``
even after signed records follow. With ``--signing-key`` every record the run writes is
signed, so the stored case's export and the ``--audit`` log both verify with the public
key, and a bad key file is one error line with nothing stored.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cli_support import invoke, one_error_line

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "procedures" / "examples" / "villager-committee-recall-happy-path.yaml"
CASE = "2025-石桥村-罢免"


def _keys(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "writer.key"
    made = invoke("keygen", key)
    assert made.code == 0, made.stderr
    return key, tmp_path / "writer.key.pub"


def test_run_into_a_store_with_a_signing_key_verifies_with_the_public_key(tmp_path: Path) -> None:
    """Every record of the stored case is signed: its export and the --audit log pass
    verify --public-key; another key's public half fails them."""
    key, public = _keys(tmp_path)
    db = f"sqlite:///{tmp_path / 'run.db'}"
    audit = tmp_path / "run.jsonl"

    ran = invoke("run", SCENARIO, "--db", db, "--signing-key", key, "--audit", audit)

    assert ran.code == 0, ran.stderr
    exported = invoke("case", "export", CASE, "--db", db)
    assert exported.code == 0, exported.stderr
    log = tmp_path / "export.jsonl"
    log.write_text(exported.stdout, encoding="utf-8")
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 6
    assert all("signature" in record for record in records)
    for trail in (log, audit):
        checked = invoke("verify", trail, "--public-key", public)
        assert checked.code == 0, checked.stdout + checked.stderr
        assert "signatures by key" in checked.stdout
    other = tmp_path / "other"
    other.mkdir()
    _, stranger = _keys(other)
    assert invoke("verify", log, "--public-key", stranger).code == 1


def test_run_without_a_key_still_writes_unsigned_records(tmp_path: Path) -> None:
    """Without --signing-key nothing changes: the records carry no signature, and
    verify --public-key refuses the trail as unsigned."""
    _, public = _keys(tmp_path)
    audit = tmp_path / "run.jsonl"
    assert invoke("run", SCENARIO, "--audit", audit).code == 0
    records = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert not any("signature" in record for record in records)
    assert invoke("verify", audit, "--public-key", public).code == 1


def test_a_bad_signing_key_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    """A missing or non-key file is refused before the store is touched."""
    not_a_key = tmp_path / "not.key"
    not_a_key.write_text("hello\n", encoding="utf-8")
    db_file = tmp_path / "run.db"
    for key in (tmp_path / "missing.key", not_a_key):
        ran = invoke("run", SCENARIO, "--db", f"sqlite:///{db_file}", "--signing-key", key)
        one_error_line(ran)
        assert "--signing-key" in ran.stderr
    if db_file.exists():
        with sqlite3.connect(db_file) as connection:
            assert connection.execute("SELECT count(*) FROM cases").fetchone() == (0,)
