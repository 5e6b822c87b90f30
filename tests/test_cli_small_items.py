"""Specification: the smaller command-line promises (issue 9, item 6).

``worker --once`` leaves no timer overdue; ``case import`` stores a whole log or
nothing; ``case export -o`` leaves no temporary file; a read-only database is
called read-only; ``--actor ""`` and ``--key ""`` are refused as HTTP refuses them
and write nothing; scenario steps may not go back in time; a scenario that names a
file which is not a procedure does not print that file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cli_support import assert_no_traceback, invoke, located_lines, one_error_line
from store_support import (
    DATA,
    PROCEDURE_PATH,
    SECRETARY,
    T0,
    open_case,
    pg_schema_url,
    procedure,
)

from engine.definition.loader import load_source
from engine.errors import CaseExists
from engine.runtime.engine import Engine
from engine.runtime.transfer import import_log
from engine.runtime.types import Actor
from engine.storage import open_store

CLERK = Actor(id="文书甲", roles=("clerk",))

PERIODIC = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: periodic
version: "1.0.0"
title: 季度公开
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    lapses: {type: integer}
initial: disclosing
states:
  disclosing:
    label: 按季公开
    deadline: {after: P3M, event: quarter_lapsed}
  done:
    label: 办结
    final: true
events:
  quarter_lapsed:
    label: 季度未公开
    transitions:
      - from: disclosing
        to: disclosing
        actions:
          - increment: {path: data.lapses}
  finish:
    label: 办结
    roles: [clerk]
    transitions:
      - {from: disclosing, to: done}
"""
"""A deadline every quarter whose timer loops back and arms the next quarter."""


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL on each durable backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
    else:
        yield from pg_schema_url()


# -- worker --once ----------------------------------------------------------------------------


def test_worker_once_fires_every_due_period_of_every_case(db: str) -> None:
    """Rule: ``worker --once`` fires each case's every overdue period, then exits.

    Two cases a year and a bit behind their quarterly deadline (4 periods due at
    T0 + 400 days: T0+3M, +6M, +9M, +12M) get four timer records each, however small
    the batch, and no timer is left due.
    """
    store = open_store(db)
    engine = Engine(store=store)
    periodic = load_source(PERIODIC, "<periodic>")
    for case in ("p1", "p2"):
        engine.open_case(periodic, case, {"lapses": 0}, actor=CLERK, at=T0)
    store.close()
    now = (T0 + timedelta(days=400)).isoformat()

    ran = invoke("worker", "--once", "--batch", "1", "--now", now, "--json", "--db", db)

    assert ran.code == 0, ran.stderr
    fired = [json.loads(line) for line in ran.stdout.splitlines()]
    assert sorted((f["case"], f["seq"]) for f in fired) == [
        (case, seq) for case in ("p1", "p2") for seq in (2, 3, 4, 5)
    ]
    store = open_store(db)
    try:
        assert store.due_timers(T0 + timedelta(days=400)) == []
        assert Engine(store=store).case("p1").data["lapses"] == 4
    finally:
        store.close()


def test_worker_once_with_nothing_due_fires_nothing(tmp_path: Path) -> None:
    """Rule: at a time before any deadline, ``--once`` fires nothing and exits 0."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(db)
    Engine(store=store).open_case(
        load_source(PERIODIC, "<periodic>"), "p1", {"lapses": 0}, actor=CLERK, at=T0
    )
    store.close()
    just_before = (T0 + timedelta(days=91) - timedelta(seconds=1)).isoformat()

    ran = invoke("worker", "--once", "--now", just_before, "--db", db)

    assert (ran.code, ran.stdout, ran.stderr.strip()) == (0, "", "worker: fired 0 timer(s)")


# -- case import is all or nothing ------------------------------------------------------------


def _two_case_log(tmp_path: Path) -> Path:
    source = Engine(store=open_store("memory://"))
    open_case(source, "c-1")
    open_case(source, "c-2")
    log = tmp_path / "two.jsonl"
    log.write_bytes(b"".join(line for c in ("c-1", "c-2") for line in source.store.export_lines(c)))
    return log


def test_import_of_several_cases_stores_none_when_one_is_refused(db: str, tmp_path: Path) -> None:
    """Rule: a log is imported whole or not at all: when the store already holds the
    second case, the first is not stored either (CLI and library alike)."""
    log = _two_case_log(tmp_path)
    lines = log.read_bytes().splitlines(keepends=True)
    store = open_store(db)
    engine = Engine(store=store)
    known = {procedure().procedure.sha256: procedure()}.get
    import_log(engine, [line for line in lines if b'"case":"c-2"' in line], known)

    ran = invoke("case", "import", log, "-p", PROCEDURE_PATH, "--db", db)
    with pytest.raises(CaseExists):
        import_log(engine, lines, known)

    line = one_error_line(ran)
    assert "c-2" in line
    try:
        assert engine.store.case_ids() == ["c-2"]
    finally:
        store.close()


def test_import_of_several_cases_stores_all(db: str, tmp_path: Path) -> None:
    """Rule: with nothing in the way, every case of the log is stored."""
    log = _two_case_log(tmp_path)

    ran = invoke("case", "import", log, "-p", PROCEDURE_PATH, "--db", db)

    assert ran.code == 0, ran.stderr
    store = open_store(db)
    try:
        assert store.case_ids() == ["c-1", "c-2"]
    finally:
        store.close()


def test_import_of_an_empty_log_is_refused(tmp_path: Path) -> None:
    """Rule: an empty file imports nothing and says so, exit ≠ 0 (not a silent success)."""
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")

    ran = invoke("case", "import", empty, "--db", "memory://")

    assert "the log is empty" in one_error_line(ran)


# -- case export -o leaves no temporary file --------------------------------------------------


def _stored_case(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(db)
    open_case(Engine(store=store), "c-1")
    store.close()
    return db


def test_export_to_a_file_leaves_only_that_file(tmp_path: Path) -> None:
    """Rule: ``-o FILE`` writes FILE and nothing else beside it."""
    db = _stored_case(tmp_path)
    out = tmp_path / "out"
    out.mkdir()

    ran = invoke("case", "export", "c-1", "-o", out / "c-1.jsonl", "--db", db)

    assert ran.code == 0, ran.stderr
    assert sorted(p.name for p in out.iterdir()) == ["c-1.jsonl"]


def test_export_to_a_directory_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    """Rule: ``-o DIR`` is one line saying it is a directory; no temp file is left."""
    db = _stored_case(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())

    ran = invoke("case", "export", "c-1", "-o", out, "--db", db)

    assert "is a directory" in one_error_line(ran)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list(out.iterdir()) == []


def test_export_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    """Rule: ``-o missing/x.jsonl`` is one line naming the missing directory."""
    db = _stored_case(tmp_path)

    ran = invoke("case", "export", "c-1", "-o", tmp_path / "nowhere" / "x.jsonl", "--db", db)

    assert "does not exist" in one_error_line(ran)


# -- read-only databases ----------------------------------------------------------------------


@contextlib.contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    """Make ``directory`` read-only: a read-only bind mount as root, permissions otherwise."""
    if os.geteuid() != 0:
        for path in directory.iterdir():
            path.chmod(0o444)
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
            for path in directory.iterdir():
                path.chmod(0o644)
        return
    # root writes through any permission bits, so only a read-only mount stops it.
    mount, umount = shutil.which("mount"), shutil.which("umount")
    assert mount is not None and umount is not None, "mount(8) is needed as root"
    subprocess.run([mount, "--bind", str(directory), str(directory)], check=True, timeout=30)
    try:
        subprocess.run([mount, "-o", "remount,ro,bind", str(directory)], check=True, timeout=30)
        yield
    finally:
        subprocess.run([umount, str(directory)], check=True, timeout=30)


def test_a_read_only_database_is_called_read_only(tmp_path: Path) -> None:
    """Rule: a database on a read-only mount (or a read-only file) is reported as
    read-only, not as a corrupt database; reading and writing alike."""
    where = tmp_path / "data"
    where.mkdir()
    db = f"sqlite:///{where / 'cases.db'}"
    store = open_store(db)
    open_case(Engine(store=store), "c-1")
    store.close()
    for leftover in where.glob("cases.db-*"):
        leftover.unlink()

    with _read_only(where):
        shown = invoke("case", "show", "c-1", "--db", db)
        fired = invoke("case", "fire", "c-1", "propose", "--actor", SECRETARY.id,
                       "--role", SECRETARY.roles[0], "--payload", '{"present": 4, "yes": 3}',
                       "--db", db)  # fmt: skip

    for ran in (shown, fired):
        line = one_error_line(ran)
        assert "read-only" in line, line
        assert "not a usable" not in line and "restore" not in line, line


# -- --actor "" and --key "" ------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [("--actor", ""), ("--actor", " "), ("--key", ""), ("--key", "two words")],
    ids=["empty actor", "blank actor", "empty key", "key with a space"],
)
def test_an_empty_actor_or_key_is_refused_and_writes_nothing(
    extra: tuple[str, str], tmp_path: Path
) -> None:
    """Rule: what HTTP refuses (an empty actor, a key outside its pattern) the CLI
    refuses too, in one line, before anything reaches the case's chain."""
    db = _stored_case(tmp_path)
    argv = {"--actor": SECRETARY.id, "--key": None}
    argv[extra[0]] = extra[1]
    key = ("--key", argv["--key"]) if argv["--key"] is not None else ()

    ran = invoke("case", "fire", "c-1", "propose", "--actor", str(argv["--actor"]),
                 "--role", SECRETARY.roles[0], "--payload", '{"present": 4, "yes": 3}',
                 *key, "--db", db)  # fmt: skip

    assert extra[0] in one_error_line(ran)
    store = open_store(db)
    try:
        assert len(store.records("c-1")) == 1
    finally:
        store.close()


# -- scenarios --------------------------------------------------------------------------------

SCENARIO = """\
procedure: {procedure}
case: c-1
opened_at: "2024-03-01T09:00:00+08:00"
opened_by: {{id: 张书记, roles: [branch_secretary]}}
data: {data}
steps:
  - at: "2024-03-02T09:00:00+08:00"
    event: propose
    actor: {{id: 张书记, roles: [branch_secretary]}}
    payload: {{present: 4, yes: 3}}
  - at: "{second}"
    event: deliberate
    actor: {{id: 张书记, roles: [branch_secretary]}}
    payload: {{present: 9, yes: 8}}
"""


def _scenario(tmp_path: Path, second: str, procedure: Path = PROCEDURE_PATH) -> Path:
    path = tmp_path / "scenario.yaml"
    text = SCENARIO.format(procedure=procedure, data=json.dumps(DATA, ensure_ascii=False),
                           second=second)  # fmt: skip
    path.write_text(text, encoding="utf-8")
    return path


def test_a_scenario_step_back_in_time_is_a_located_error(tmp_path: Path) -> None:
    """Rule: a step earlier than the step before it is refused at that step's ``at``
    (file:line:col: steps[1].at), before anything runs."""
    path = _scenario(tmp_path, "2024-03-02T08:59:59+08:00")
    audit = tmp_path / "audit.jsonl"

    ran = invoke("run", path, "--audit", audit)

    assert_no_traceback(ran)
    assert ran.code == 1
    (line,) = located_lines(ran, path)
    assert line.startswith(f"{path}:11:9: steps[1].at: step 2 is at 2024-03-02T08:59:59+08:00, "
                           "before steps[0].at (2024-03-02T09:00:00+08:00)"), line  # fmt: skip
    assert not audit.exists()


def test_a_scenario_step_at_the_same_instant_is_allowed(tmp_path: Path) -> None:
    """Rule: the same instant (here written in another offset) is not going back."""
    path = _scenario(tmp_path, "2024-03-02T01:00:00Z")

    ran = invoke("run", path)

    assert ran.code == 0, ran.stdout + ran.stderr


def test_a_scenario_naming_a_non_procedure_file_does_not_print_it(tmp_path: Path) -> None:
    """Rule: when a scenario names a file that is not a procedure, the error says so
    without echoing the file's content (it may be anything, even a password file)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:hunter2 the password is swordfish\n", encoding="utf-8")
    path = _scenario(tmp_path, "2024-03-03T09:00:00+08:00", procedure=secret)

    ran = invoke("run", path)

    assert_no_traceback(ran)
    assert ran.code == 1
    assert "hunter2" not in ran.stdout + ran.stderr
    assert "swordfish" not in ran.stdout + ran.stderr
    (line,) = located_lines(ran, secret)
    assert "expected a mapping, found text of" in line, line


def test_a_scenario_time_with_no_utc_form_is_a_located_error(tmp_path: Path) -> None:
    """Rule: an instant the record cannot hold in UTC (year 9999's last hours west of
    Greenwich) is a located problem at that step, not a crash of the engine."""
    path = _scenario(tmp_path, "9999-12-31T23:00:00-12:00")

    ran = invoke("run", path)

    assert_no_traceback(ran)
    assert ran.code == 1
    (line,) = located_lines(ran, path)
    assert line.startswith(f"{path}:11:9: steps[1].at: not a valid time"), line
