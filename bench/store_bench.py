"""Durable store figures, as ratios measured in one run (DESIGN.md, performance table).

1. Durable events/s through the engine on SQLite against raw SQLite insert+commit
   of a comparable row (a ~1.5 KB text record) at the same synchronous level,
   for FULL and NORMAL; also the store alone (precomputed records).
2. Firing one event on a random case of a store holding N cases (default
   1,000,000): p50 and p99; database size per case and per event.
3. PostgreSQL events/s from 1, 2 and 4 processes on different cases.
4. Durable events/s with 1, 8 and 32 concurrent writer threads (group commit)
   against one writer committing each event alone, through the store alone
   (precomputed records) and through the engine.

Usage: ``python bench/store_bench.py [--cases N] [--pg URL] [--dir DIR] [--only 1,4]``.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from store_support import DATA, RECONVENE, SECRETARY, T0, procedure  # noqa: E402

from engine.audit.canonical import canonical_bytes  # noqa: E402
from engine.runtime.engine import Engine  # noqa: E402
from engine.runtime.snapshot import CaseSnapshot  # noqa: E402
from engine.storage import MemoryStore, open_store  # noqa: E402
from engine.storage.rows import CASE_COLUMNS, case_row  # noqa: E402
from engine.storage.sqlite import SqliteStore  # noqa: E402

Commit = tuple[CaseSnapshot, Mapping[str, Any], int]


class Recorder(MemoryStore):
    """A memory store that also keeps every commit, to replay into another store.

    It keeps each record as the engine handed it (sealed, its line made when it was
    hashed), so the store alone does the work it does for the engine; a copy would
    make every store commit encode and hash the record again.
    """

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[Commit] = []

    def commit(self, snapshot: CaseSnapshot, record: Mapping[str, Any], **kw: Any) -> None:
        super().commit(snapshot, record, **kw)
        self.commits.append((snapshot, record, kw["expected_seq"]))


def chains(cases: int, events: int) -> list[list[Commit]]:
    """Per case: the opened record and ``events`` propose records, as commits."""
    recorder = Recorder()
    engine = Engine(store=recorder)
    for index in range(cases):
        case_id = f"b-{index:03d}"
        engine.open_case(procedure(), case_id, DATA, actor=SECRETARY, at=T0)
        for step in range(events):
            at = T0 + timedelta(seconds=step + 1)
            engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE, at=at)
    grouped: dict[str, list[Commit]] = {}
    for commit in recorder.commits:
        grouped.setdefault(commit[0].id, []).append(commit)
    return list(grouped.values())


def fresh(directory: Path, name: str) -> Path:
    """A path for a new database (old files removed)."""
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


# -- 1. engine vs raw ---------------------------------------------------------------------------


def raw_rate(path: Path, sync: str, rows: int, text: str) -> float:
    """Raw SQLite: insert one row and commit, per row, in WAL at ``sync``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {sync}")
    conn.execute(
        "CREATE TABLE events (case_id TEXT, seq INTEGER, record TEXT, PRIMARY KEY (case_id, seq))"
    )
    start = time.perf_counter()
    for seq in range(rows):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO events VALUES (?, ?, ?)", ("c", seq, text))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


def engine_rate(url: str, events: int) -> tuple[float, float]:
    """Events/s through Engine.fire on one case, single thread, and CPU seconds per event.

    CPU time (the process's, kernel included) is steadier than the rate on a shared
    machine, whose fsync latency drifts: it shows what the engine's path itself costs.
    """
    store = open_store(url)
    engine = Engine(store=store)
    engine.open_case(procedure(), "e-1", DATA, actor=SECRETARY, at=T0)
    cpu = time.process_time()
    start = time.perf_counter()
    for step in range(events):
        at = T0 + timedelta(seconds=step + 1)
        engine.fire("e-1", "propose", actor=SECRETARY, payload=RECONVENE, at=at)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    store.close()
    return events / elapsed, cpu / events


def memory_rate(events: int) -> tuple[float, float]:
    """Events/s through Engine.fire in memory (the engine's own cost), and CPU s per event."""
    return engine_rate("memory://", events)


def paused_memory_cpu(events: int, pause: float) -> float:
    """CPU seconds per event through Engine.fire in memory, idle ``pause`` s after each.

    A durable writer sleeps in every fsync while other processes use the core, and
    its next event starts on cold caches; this shows that cost without any store.
    """
    engine = Engine(store=MemoryStore())
    engine.open_case(procedure(), "p-1", DATA, actor=SECRETARY, at=T0)
    cpu = 0.0
    for step in range(events):
        at = T0 + timedelta(seconds=step + 1)
        began = time.process_time()
        engine.fire("p-1", "propose", actor=SECRETARY, payload=RECONVENE, at=at)
        cpu += time.process_time() - began
        time.sleep(pause)
    return cpu / events


def store_rate(url: str, work: list[list[Commit]], threads: int) -> float:
    """Commits/s of precomputed records through the store from ``threads`` writers."""
    store = open_store(url)
    store.save_procedure(id="p", version="1", sha256=work[0][0][0].procedure_sha256, source="")
    shares = [work[i::threads] for i in range(threads)]
    total = sum(len(chain) for chain in work)
    barrier = threading.Barrier(threads + 1)

    def run(share: list[list[Commit]]) -> None:
        barrier.wait()
        for chain in share:
            for snapshot, record, expected in chain:
                store.commit(snapshot, record, expected_seq=expected)

    pool = [threading.Thread(target=run, args=(s,)) for s in shares]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    store.close()
    return total / elapsed


def engine_threads_rate(url: str, threads: int, seconds: float) -> tuple[float, float]:
    """Events/s through Engine.fire from ``threads`` threads, each on its own case, and the
    process's CPU seconds per event."""
    store = open_store(url)
    engine = Engine(store=store)
    for index in range(threads):
        engine.open_case(procedure(), f"t-{index}", DATA, actor=SECRETARY, at=T0)
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def run(index: int) -> None:
        step = 0
        while time.perf_counter() < stop:
            step += 1
            at = T0 + timedelta(seconds=step)
            engine.fire(f"t-{index}", "propose", actor=SECRETARY, payload=RECONVENE, at=at)
        counts[index] = step

    cpu = time.process_time()
    start = time.perf_counter()
    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    store.close()
    return sum(counts) / elapsed, cpu / sum(counts)


# -- 2. a million cases -------------------------------------------------------------------------


def build_cases(path: Path, count: int) -> float:
    """Bulk-load ``count`` valid cases (snapshot + sealed case.opened record); return seconds.

    The first case is opened by the engine; the others differ only in their id, so
    their canonical bytes are the template's with the id swapped (same length),
    hashed again: valid records at a few microseconds each.
    """
    start = time.perf_counter()
    recorder = Recorder()
    engine = Engine(store=recorder)
    template_id = f"m{0:07d}"
    engine.open_case(procedure(), template_id, DATA, actor=SECRETARY, at=T0)
    snapshot, record, _ = recorder.commits[0]
    body = canonical_bytes({k: v for k, v in record.items() if k != "hash"})
    marker = f'"case":"{template_id}"'.encode()
    assert body.count(marker) == 1
    head, tail = body.split(marker)
    row = case_row(snapshot)
    store = SqliteStore(path)
    store.save_procedure(
        id=snapshot.procedure_id, version=snapshot.procedure_version,
        sha256=snapshot.procedure_sha256, source=procedure().procedure.source,
    )  # fmt: skip
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # bulk load only; the bench itself runs FULL
    conn.execute("BEGIN")
    chunk = 20000
    for first in range(0, count, chunk):
        cases, events = [], []
        for index in range(first, min(count, first + chunk)):
            case_id = f"m{index:07d}"
            canonical = b"".join((head, f'"case":"{case_id}"'.encode(), tail))
            digest = hashlib.sha256(canonical).hexdigest()
            line = f'{{"hash":"{digest}",' + canonical[1:].decode()
            updated = T0 + timedelta(seconds=index)
            named = dict(zip(CASE_COLUMNS, row, strict=True))
            named.update(id=case_id, head=digest, updated_at=updated.isoformat(),
                         updated_us=int(updated.timestamp()) * 1_000_000)  # fmt: skip
            cases.append(tuple(named.values()))
            events.append((case_id, 1, line))
        marks = ", ".join("?" * len(CASE_COLUMNS))
        conn.executemany(
            f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({marks})",  # noqa: S608
            cases,
        )
        conn.executemany("INSERT INTO events VALUES (?, ?, ?)", events)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - start


def random_fires(path: Path, count: int, fires: int) -> list[float]:
    """Latency (s) of Engine.fire on random cases of a large store, synchronous=FULL."""
    store = open_store(f"sqlite:///{path}")
    engine = Engine(store=store)
    engine.register(procedure())
    rng = random.Random(7)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    timings = []
    for step in range(fires):
        case_id = f"m{rng.randrange(count):07d}"
        began = time.perf_counter()
        engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE,
                    at=at + timedelta(seconds=step))  # fmt: skip
        timings.append(time.perf_counter() - began)
    store.close()
    return timings


def db_size(path: Path) -> int:
    """The database file plus its WAL."""
    return sum(
        Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()
    )


# -- 3. PostgreSQL processes --------------------------------------------------------------------


def _pg_worker(url: str, index: int, seconds: float, results: Any) -> None:
    store = open_store(url)
    engine = Engine(store=store)
    case_id = f"pg-{index}-{os.getpid()}"
    engine.open_case(procedure(), case_id, DATA, actor=SECRETARY, at=T0)
    count = 0
    stop = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < stop:
        count += 1
        at = T0 + timedelta(seconds=count)
        engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE, at=at)
    results.put((count, time.perf_counter() - start))
    store.close()


def pg_rate(url: str, processes: int, seconds: float) -> float:
    """Events/s through the engine from ``processes`` processes on PostgreSQL."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(target=_pg_worker, args=(url, i, seconds, results))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(count for count, _ in found) / max(elapsed for _, elapsed in found)


def pg_schema(base: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema URL and a function that drops it."""
    import psycopg

    name = f"yishi_bench_{os.getpid()}"

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    drop()
    return f"{base}?schema={name}", drop


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    """Run every figure and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--fires", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--dir", type=Path, default=None, help="Where the databases go.")
    parser.add_argument(
        "--only", default="1,2,3,4", help="Which figures to measure, e.g. 1,4 (default: all)."
    )
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="yishi-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    procedure()
    try:
        run(args, directory)
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


def run(args: argparse.Namespace, directory: Path) -> None:
    """The measurements asked for with ``--only``, in the order 1, 4, 3, 2."""
    only = set(args.only.replace(" ", "").split(","))
    work = chains(32, 150)
    text = work[0][-1][1]
    sample = canonical_bytes(dict(text)).decode()
    rate, cpu = memory_rate(1500)
    print(
        f"record line ≈ {len(sample)} bytes; engine in memory {rate:,.0f} ev/s, "
        f"{cpu * 1e6:.0f} µs CPU per event"
    )
    if "1" in only:
        one_writer(directory, work, sample)
    if "4" in only:
        group_commit(directory, work)
    if "3" in only:
        postgres(args)
    if "2" in only:
        many_cases(args, directory)


def one_writer(directory: Path, work: list[list[Commit]], sample: str) -> None:
    """Figure 1: one writer, durable, against raw insert+commit at the same sync level."""
    # fsync latency on shared disks drifts by 10x within seconds, so every ratio is
    # taken within one round (the compared runs back to back) and the median of the
    # rounds is printed, with the rates of that round.
    print("\n1. durable events/s, one writer, SQLite WAL (median of 3 interleaved rounds)")
    print("   (engine CPU: µs of process CPU per event, the in-memory engine's beside it)")
    for sync in ("full", "normal"):
        rounds = []
        for _ in range(3):
            raw = raw_rate(fresh(directory, f"raw-{sync}.db"), sync.upper(), 1500, sample)
            url = f"sqlite:///{fresh(directory, f'engine-{sync}.db')}?sync={sync}"
            through, cpu = engine_rate(url, 600)
            _, memory_cpu = memory_rate(300)
            alone = store_rate(f"sqlite:///{fresh(directory, f'store-{sync}.db')}?sync={sync}",
                               work[:8], 1)  # fmt: skip
            rounds.append((through / raw, raw, through, alone, cpu, memory_cpu))
        ratio, raw, through, alone, cpu, memory_cpu = sorted(rounds)[1]
        goal = "; goal ≥ 0.7x" if sync == "full" else ""  # the goal is for durable commits
        print(
            f"  {sync.upper():6} raw insert+commit {raw:8,.0f}/s | engine {through:7,.0f}/s "
            f"({ratio:.2f}x raw{goal}; CPU {cpu * 1e6:.0f} µs, in memory "
            f"{memory_cpu * 1e6:.0f}) | store alone {alone:7,.0f}/s ({alone / raw:.2f}x raw)"
        )
    paused = paused_memory_cpu(300, 0.001)
    print(
        f"  (the engine in memory idling 1 ms after each event, as a durable writer idles in "
        f"its fsync: CPU {paused * 1e6:.0f} µs per event — its caches go cold meanwhile)"
    )


@dataclass(frozen=True, slots=True)
class GroupRound:
    """One round of figure 4 at one writer count: every rate measured in that round."""

    engine_ratio: float
    engine: float
    engine_one: float
    cpu: float
    store: float
    store_one: float


def median_round(rounds: list[GroupRound]) -> GroupRound:
    """The round whose engine ratio is the median (for one writer, whose ratio is 1, the
    round of the median rate), kept whole.

    Ratios are taken within a round, the runs compared back to back, because fsync
    latency on a shared disk drifts between rounds. The printed line must then come
    from one round too: picking each figure's median on its own would pair a ratio
    with rates of another round (and print a one-writer rate that is not its base).
    """
    ordered = sorted(rounds, key=lambda found: (found.engine_ratio, found.engine))
    return ordered[len(rounds) // 2]


def group_commit(directory: Path, work: list[list[Commit]]) -> None:
    """Figure 4: 1, 8 and 32 writer threads against one writer committing each event."""
    print("\n4. group commit: durable events/s (synchronous=FULL) vs one writer committing each")
    print("   (3 interleaved rounds; each line is the round with the median engine ratio, all its")
    print("   rates from that round, and the engine ratio's range over the rounds; store alone =")
    print("   precomputed records, no engine; CPU = µs of process CPU per event through the")
    print("   engine, all threads together)")
    results: dict[int, list[GroupRound]] = {1: [], 8: [], 32: []}
    for _ in range(3):
        store_one = store_rate(f"sqlite:///{fresh(directory, 'gc-1.db')}", work, 1)
        engine_one, cpu_one = engine_threads_rate(
            f"sqlite:///{fresh(directory, 'ge-1.db')}", 1, 2.0
        )
        results[1].append(GroupRound(1.0, engine_one, engine_one, cpu_one, store_one, store_one))
        for threads in (8, 32):
            store = store_rate(f"sqlite:///{fresh(directory, f'gc-{threads}.db')}", work, threads)
            engine, cpu = engine_threads_rate(
                f"sqlite:///{fresh(directory, f'ge-{threads}.db')}", threads, 2.0
            )
            results[threads].append(
                GroupRound(engine / engine_one, engine, engine_one, cpu, store, store_one)
            )
    for threads, rounds in results.items():
        found = median_round(rounds)
        low = min(r.engine_ratio for r in rounds)
        high = max(r.engine_ratio for r in rounds)
        print(
            f"  {threads:2} writers: store alone {found.store:7,.0f}/s "
            f"({found.store / found.store_one:4.1f}x one writer at {found.store_one:,.0f}/s) | "
            f"engine {found.engine:7,.0f}/s ({found.engine_ratio:4.2f}x one engine writer at "
            f"{found.engine_one:,.0f}/s, rounds {low:.2f}–{high:.2f}x; goal at 32 ≥ 3x; "
            f"CPU {found.cpu * 1e6:.0f} µs)"
        )


def postgres(args: argparse.Namespace) -> None:
    """Figure 3: PostgreSQL from 1, 2 and 4 processes."""
    print("\n3. PostgreSQL, processes on different cases (through the engine)")
    try:
        url, drop = pg_schema(args.pg)
        open_store(url).close()
        base = None
        for processes in (1, 2, 4):
            rate = pg_rate(url, processes, 3.0)
            base = base or rate
            print(f"  {processes} process(es): {rate:7,.0f} ev/s ({rate / base:.2f}x one)")
        drop()
    except Exception as exc:  # a bench reports what it could not measure
        print(f"  skipped: {exc}")


def many_cases(args: argparse.Namespace, directory: Path) -> None:
    """Figure 2: fire on random cases of a store holding ``--cases`` cases."""
    print(f"\n2. {args.cases:,} cases in SQLite")
    big = fresh(directory, "big.db")
    took = build_cases(big, args.cases)
    size = db_size(big)
    print(
        f"  built in {took:.1f} s; {size / args.cases:,.0f} bytes per case (with its opened record)"
    )
    timings = random_fires(big, args.cases, args.fires)
    grown = db_size(big) - size
    quantiles = statistics.quantiles(timings, n=100)
    print(
        f"  fire one event on a random case: p50 {quantiles[49] * 1e3:.2f} ms, "
        f"p99 {quantiles[98] * 1e3:.2f} ms (goal p99 ≤ 5 ms), over {args.fires} fires"
    )
    conn = sqlite3.connect(big)
    average = conn.execute("SELECT avg(length(record)) FROM events").fetchone()[0]
    conn.close()
    print(
        f"  per event: {average:,.0f} bytes of record text; file+WAL grew "
        f"{grown / args.fires:,.0f} bytes per fired event"
    )


if __name__ == "__main__":
    main()
