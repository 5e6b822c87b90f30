"""Specification: stores survive crashes, concurrent writers and bad input (real processes).

* Crash safety: a child process firing events from several threads on SQLite is
  killed with SIGKILL at random moments, again and again; after each kill the
  store opens, every chain verifies, every event the child had acknowledged is
  there, and no half-written event exists. Each round verifies what was appended
  since the last round's heads (each head still holding its hash); after the last
  kill every chain is verified again from seq 1.
* Concurrency: several processes fire at the same cases; every attempt either
  landed exactly once or got a conflict, and no seq is duplicated or skipped.
* Idempotency: retries with one key from several processes apply once.
* Timers: several workers share due timers; each fires exactly once.
* Bad input: a corrupt file, a newer schema, a wrong URL, a PostgreSQL that is
  down — one clear line, exit status 1, no traceback, and nothing changed.

Children are forked (``multiprocessing`` "fork"), so they start in milliseconds
with the compiled procedure already in memory; each opens its own store.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import completed
from store_support import (
    RECONVENE,
    SECRETARY,
    T0,
    open_case,
    pg_schema_url,
    procedure,
    to_disclosure,
    verify_store,
    verify_store_after,
)

from engine.audit.verify import CaseHead
from engine.errors import Conflict, StoreError
from engine.runtime.engine import Engine
from engine.storage import open_store

FORK = multiprocessing.get_context("fork")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL that several processes can share."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        yield from pg_schema_url()


def _engine(url: str) -> Engine:
    engine = Engine(store=open_store(url))
    engine.register(procedure())
    return engine


def _prepare(url: str, cases: list[str]) -> None:
    engine = _engine(url)
    for case_id in cases:
        open_case(engine, case_id)
    engine.store.close()


# -- crash safety -------------------------------------------------------------------------------


def _fire_forever(url: str, fd: int, cases: list[str], round_: int) -> None:
    """Child: fire on each case from its own thread; write "case seq" once each fire returns.

    Each child starts an hour after the previous one's times (``round_``): time never
    runs backwards in a case, so a child must not reuse earlier children's times.
    """
    engine = _engine(url)
    lock = threading.Lock()

    def loop(case_id: str) -> None:
        step = 0
        while True:
            step += 1
            at = T0 + timedelta(hours=round_, seconds=step)
            outcome = engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE, at=at)
            with lock:
                os.write(fd, f"{case_id} {outcome.seq}\n".encode())

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_event_or_leaves_half_of_one(tmp_path: Path) -> None:
    """20+ SIGKILLs at random moments: chains verify and every acknowledged event is there."""
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    cases = ["c-0", "c-1", "c-2", "c-3"]
    _prepare(url, cases)
    rng = random.Random(20240301)  # noqa: S311  # kill timing, not cryptography
    acknowledged = {case_id: 1 for case_id in cases}
    kills = 0
    kept: dict[str, CaseHead] = {}
    for round_ in range(22):
        read_end, write_end = os.pipe()
        child = FORK.Process(target=_fire_forever, args=(url, write_end, cases, round_))
        child.start()
        os.close(write_end)
        time.sleep(rng.uniform(0.02, 0.3))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        kills += child.exitcode == -signal.SIGKILL
        received = b""
        while chunk := os.read(read_end, 65536):
            received += chunk
        os.close(read_end)
        for line in received.decode().splitlines():
            case_id, seq = line.split()
            acknowledged[case_id] = max(acknowledged[case_id], int(seq))

        # Opens; each chain's records since the last round's head verify from that head,
        # which still holds its hash; the snapshot sits on the last record.
        store = open_store(url)
        try:
            kept = verify_store_after(store, kept)
        finally:
            store.close()
        for case_id, seq in acknowledged.items():
            assert kept[case_id].seq >= seq, f"{case_id}: seq {seq} was acknowledged, then lost"

    store = open_store(url)
    try:
        heads = verify_store(store)  # after the last kill, every chain again from seq 1
    finally:
        store.close()
    assert heads == {case_id: head.seq for case_id, head in kept.items()}
    assert kills >= 20
    assert sum(acknowledged.values()) > len(cases)  # the children really did work


# -- concurrency --------------------------------------------------------------------------------


def _compete(url: str, worker: int, cases: list[str], attempts: int, out: str) -> None:
    """Child: fire at shared cases; write each attempt's fate (landed seq or conflict)."""
    engine = _engine(url)
    fates: list[dict[str, Any]] = []
    for index in range(attempts):
        case_id = cases[index % len(cases)]
        tag = f"w{worker}-{index}"
        payload = {**RECONVENE, "minutes": tag}
        try:
            outcome = engine.fire(case_id, "propose", actor=SECRETARY, payload=payload)
            fates.append({"case": case_id, "tag": tag, "seq": outcome.seq})
        except Conflict:
            fates.append({"case": case_id, "tag": tag, "seq": None})
    engine.store.close()
    Path(out).write_text(json.dumps(fates), encoding="utf-8")


def _run_children(target: Any, argsets: list[tuple[Any, ...]]) -> None:
    children = [FORK.Process(target=target, args=args) for args in argsets]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
        assert child.exitcode == 0


def test_concurrent_writers_land_once_or_conflict(shared_url: str, tmp_path: Path) -> None:
    """4 processes × 25 attempts on 3 shared cases: no fork, no gap, no duplicate, no loss."""
    cases = ["c-0", "c-1", "c-2"]
    _prepare(shared_url, cases)
    outs = [str(tmp_path / f"fates-{w}.json") for w in range(4)]
    _run_children(_compete, [(shared_url, w, cases, 25, outs[w]) for w in range(4)])
    fates = [f for out in outs for f in json.loads(Path(out).read_text(encoding="utf-8"))]

    store = open_store(shared_url)
    try:
        heads = verify_store(store)  # seqs 1..n, each once, chained
        recorded = {
            (case_id, r["payload"]["minutes"]): r["seq"]
            for case_id in cases
            for r in store.records(case_id)[1:]
        }
    finally:
        store.close()
    landed = {(f["case"], f["tag"]): f["seq"] for f in fates if f["seq"] is not None}
    conflicted = {(f["case"], f["tag"]) for f in fates if f["seq"] is None}
    assert len(fates) == 100
    assert recorded == landed  # every landed attempt exactly once, at the seq it was told
    assert conflicted.isdisjoint(recorded)  # a conflict left nothing behind
    assert sum(heads.values()) == len(cases) + len(landed)


def _retry_with_key(url: str, out: str) -> None:
    """Child: send one keyed request three times, retrying conflicts; write the seqs told."""
    engine = _engine(url)
    told = []
    for _ in range(3):
        while True:
            try:
                outcome = engine.fire(
                    "c-0", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3},
                    idempotency_key="once",
                )  # fmt: skip
                break
            except Conflict:
                continue
        told.append(outcome.seq)
        noise = {**RECONVENE, "minutes": str(os.getpid())}
        with contextlib.suppress(Conflict):  # unkeyed traffic racing the keyed request
            engine.fire("c-0", "propose", actor=SECRETARY, payload=noise)
    engine.store.close()
    Path(out).write_text(json.dumps(told), encoding="utf-8")


def test_idempotent_retries_from_many_processes_apply_once(shared_url: str, tmp_path: Path) -> None:
    """4 processes retry one keyed request: it is recorded once, and all are told that seq."""
    _prepare(shared_url, ["c-0"])
    outs = [str(tmp_path / f"told-{w}.json") for w in range(4)]
    _run_children(_retry_with_key, [(shared_url, out) for out in outs])
    told = {seq for out in outs for seq in json.loads(Path(out).read_text(encoding="utf-8"))}

    store = open_store(shared_url)
    try:
        verify_store(store)
        keyed = [r for r in store.records("c-0") if r.get("idempotency_key") == "once"]
    finally:
        store.close()
    assert len(keyed) == 1
    assert told == {keyed[0]["seq"]}


def _work_timers(url: str, moment: str, out: str) -> None:
    """Child: a worker firing due timers a few at a time until none is left."""
    from engine.runtime.clock import parse_time

    engine = _engine(url)
    fired = []
    while outcomes := engine.tick(parse_time(moment), limit=3):
        fired.extend(o.case for o in outcomes)
    engine.store.close()
    Path(out).write_text(json.dumps(fired), encoding="utf-8")


def test_workers_share_due_timers_and_fire_each_once(shared_url: str, tmp_path: Path) -> None:
    """3 workers, 24 due timers: each timer fires exactly once, whoever fires it."""
    engine = _engine(shared_url)
    cases = [f"t-{i:02d}" for i in range(24)]
    due = max(to_disclosure(engine, case_id) for case_id in cases)
    engine.store.close()
    outs = [str(tmp_path / f"fired-{w}.json") for w in range(3)]
    moment = (due + timedelta(hours=1)).isoformat()
    _run_children(_work_timers, [(shared_url, moment, out) for out in outs])
    fired = [c for out in outs for c in json.loads(Path(out).read_text(encoding="utf-8"))]

    store = open_store(shared_url)
    try:
        verify_store(store)
        timer_records = {
            case_id: [r for r in store.records(case_id) if r["kind"] == "timer.fired"]
            for case_id in cases
        }
    finally:
        store.close()
    assert sorted(fired) == cases
    assert all(len(found) == 1 for found in timer_records.values())


# -- bad input ----------------------------------------------------------------------------------


def yishi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``yishi`` command line in process."""
    return completed(*args, cwd=cwd)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 1, one ``yishi: error:`` line on stderr mentioning ``expected``, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("yishi: error: ")
    for text in expected:
        assert text in lines[0]


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_a_corrupt_database_file_is_refused_untouched(tmp_path: Path) -> None:
    """A file that is not a SQLite database: a clear line, and the file is as it was."""
    path = tmp_path / "cases.db"
    path.write_bytes(b"this is not a database, just some bytes " * 200)
    before = _files(tmp_path)

    result = yishi("case", "list", "--db", f"sqlite:///{path}", cwd=tmp_path)

    assert_one_clear_line(result, str(path), "not a usable yishi SQLite database")
    assert _files(tmp_path) == before


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    """A database written by a newer yishi: both versions named, nothing changed."""
    path = tmp_path / "cases.db"
    _prepare(f"sqlite:///{path}", ["c-0"])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE yishi_schema SET version = 99")
    conn.close()
    before = _files(tmp_path)

    result = yishi("case", "show", "c-0", "--db", f"sqlite:///{path}", cwd=tmp_path)

    assert_one_clear_line(result, "schema version 99", "up to 4", "upgrade yishi")
    assert _files(tmp_path) == before


def test_a_newer_postgresql_schema_is_refused(tmp_path: Path) -> None:
    """The same check on PostgreSQL."""
    import psycopg

    for url in pg_schema_url():
        open_store(url).close()
        schema = url.rsplit("schema=", 1)[1]
        base = url.split("?", 1)[0]
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'UPDATE "{schema}".yishi_schema SET version = 7')  # noqa: S608
        with pytest.raises(StoreError) as caught:
            open_store(url)
        assert "schema version 7" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("cases.db", "did you mean sqlite:///cases.db"),
        ("mysql://localhost/x", "unknown store type 'mysql'"),
        ("sqlite://host/x.db", "has no host"),
        ("sqlite:///x.db?sync=sometimes", "sync must be full"),
        ("postgresql://postgres@127.0.0.1:1/test", "cannot connect to PostgreSQL"),
    ],
)
def test_a_wrong_url_or_an_unreachable_server_is_one_clear_line(
    url: str, expected: str, tmp_path: Path
) -> None:
    """Wrong URLs and a PostgreSQL that is down (a closed port) are explained, not traced."""
    result = yishi("case", "list", "--db", url, cwd=tmp_path)

    assert_one_clear_line(result, expected)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_case_and_a_conflict_are_one_clear_line(tmp_path: Path) -> None:
    """Errors about cases reach the user as one line too."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    _prepare(url, ["c-0"])

    unknown = yishi("case", "show", "nope", "--db", url, cwd=tmp_path)
    stale = yishi(
        "case", "fire", "c-0", "propose", "--actor", "张书记", "--role", "branch_secretary",
        "--payload", json.dumps(RECONVENE), "--expected-seq", "5", "--db", url, cwd=tmp_path,
    )  # fmt: skip

    assert_one_clear_line(unknown, "no case 'nope'")
    assert_one_clear_line(stale, "at seq 1, not 5")
