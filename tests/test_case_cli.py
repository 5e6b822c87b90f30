"""Specification: ``yishi case …``, ``yishi worker`` and ``yishi run --db`` on a SQLite store.

Run in process as the installed command runs (``cli_support.completed``): real exit
codes, JSON for machines, and a stored case that moves through the CLI exactly as
through the API.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

from cli_support import completed
from store_support import PROCEDURE_PATH, ROOT, SECRETARY, to_disclosure

from engine.runtime.engine import Engine
from engine.storage import open_store


def yishi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``yishi`` command line in process."""
    return completed(*args, cwd=cwd)


def test_a_stored_case_moves_through_the_cli(tmp_path: Path) -> None:
    """worker fires the due timer; show, list, history, explain, fire, export and import agree."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(db)
    due = to_disclosure(Engine(store=store), "c-1")
    store.close()

    worker = yishi("worker", "--once", "--now", (due + timedelta(hours=1)).isoformat(),
                   "--json", "--db", db, cwd=tmp_path)  # fmt: skip
    shown = yishi("case", "show", "c-1", "--json", "--db", db, cwd=tmp_path)
    listed = yishi("case", "list", "--state", "implementing", "--json", "--db", db, cwd=tmp_path)
    refused = yishi("case", "fire", "c-1", "sign_off", "--actor", SECRETARY.id,
                    "--role", SECRETARY.roles[0], "--payload", '{"opinion": "同意"}',
                    "--db", db, cwd=tmp_path)  # fmt: skip
    history = yishi("case", "history", "c-1", "--json", "--db", db, cwd=tmp_path)
    explained = yishi("case", "explain", "c-1", "disclose_result", "--json", "--db", db,
                      cwd=tmp_path)  # fmt: skip
    exported = yishi("case", "export", "c-1", "-o", "c-1.jsonl", "--db", db, cwd=tmp_path)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    imported = yishi("case", "import", "c-1.jsonl", "-p", str(PROCEDURE_PATH), "--db", other,
                     cwd=tmp_path)  # fmt: skip
    again = yishi("case", "export", "c-1", "--db", other, cwd=tmp_path)

    assert worker.returncode == 0, worker.stderr
    assert json.loads(worker.stdout) == {
        "case": "c-1", "seq": 7, "status": "applied", "to": "implementing"
    }  # fmt: skip
    assert json.loads(shown.stdout)["state"] == "implementing"
    assert [c["case"] for c in json.loads(listed.stdout)["cases"]] == ["c-1"]
    assert refused.returncode == 2
    assert "not-allowed" in refused.stdout
    records = json.loads(history.stdout)
    assert [r["kind"] for r in records[-2:]] == ["timer.fired", "event.refused"]
    explanation = json.loads(explained.stdout)
    assert (explanation["allowed"], explanation["transitions"][0]["target"]) == (
        True, "result_disclosed"
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert imported.returncode == 0, imported.stderr
    assert "imported case c-1: 8 record(s), state implementing" in imported.stdout
    assert again.stdout.encode() == (tmp_path / "c-1.jsonl").read_bytes()


def test_run_with_db_stores_the_scenario_case(tmp_path: Path) -> None:
    """``yishi run SCENARIO --db URL`` leaves the case in the store, its chain intact."""
    scenario = ROOT / "procedures" / "examples" / "four-deliberations-happy-path.yaml"
    db = f"sqlite:///{tmp_path / 'cases.db'}"

    first = yishi("run", str(scenario), "--db", db, cwd=tmp_path)
    second = yishi("run", str(scenario), "--db", db, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert "already open" in second.stderr
    store = open_store(db)
    try:
        (case_id,) = store.case_ids()
        snapshot = store.get_case(case_id)
        assert snapshot is not None and (snapshot.state, snapshot.seq) == ("closed", 14)
    finally:
        store.close()
