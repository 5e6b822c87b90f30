"""Events/s through the HTTP API against the same events fired in process (ratios, one run).

A real ``yishi serve`` (uvicorn, access log off) on 127.0.0.1 with a SQLite store
(``synchronous=FULL``: every acknowledged event fsynced) receives ``propose``
attempts that apply and stay in ``drafting`` (so they can repeat), from 1, 8 and
32 concurrent clients, each on its own case over one keep-alive connection
(``http.client``). The same events are then fired in process by the same number
of threads through ``Engine.fire`` on a SQLite store of the same kind. For each
level: events/s both ways, their ratio, and p50/p99 latency. Each level is
bounded by a count and by time, and alternates four HTTP and four in-process
rounds so that the machine's load changing meanwhile weighs on both sides alike.
The last line sets the 8-client ratio against its goal (HTTP ≥ 0.5 × in
process): both figures come from this run.

Events/s on a shared machine move with its load; CPU time per event moves much
less, so it is printed too: the server process's (from ``/proc``, where there is
one) against this process's during the in-process rounds. Their ratio is what
the HTTP layer costs per event, whatever the machine was doing meanwhile.

Usage: ``python bench/http_bench.py [--events N] [--seconds S] [--dir DIR] [--levels 1,8,32]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from server_support import (  # noqa: E402
    ADMIN_TOKEN,
    DATA,
    SECRETARY_TOKEN,
    YISHI,
    free_port,
    procedure_text,
    token_file,
    wait_healthy,
)
from store_support import SECRETARY, procedure  # noqa: E402

from engine.runtime.engine import Engine  # noqa: E402
from engine.storage import open_store  # noqa: E402

LEVELS = (1, 8, 32)
ROUNDS = 4
"""Each level alternates HTTP and in-process rounds this many times."""
GOAL_CLIENTS = 8
GOAL_RATIO = 0.5
"""HTTP events/s with 8 keep-alive clients ≥ 0.5 × the same events fired in process."""
PAYLOAD = {"present": 2, "yes": 2}  # too few present: applies and stays in drafting


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU (user + system) process ``pid`` has used; None without ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """Seconds of CPU (user + system) this process has used, every thread included."""
    times = os.times()
    return times.user + times.system


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_clients(
    clients: int,
    per_client: int,
    seconds: float,
    fire_one: Callable[[int, Any], None],
    connect: Callable[[], Any],
) -> tuple[int, float, list[float]]:
    """Run ``clients`` threads, each firing up to ``per_client`` events on its own case.

    Returns:
        (events done, wall seconds, latencies in seconds).
    """
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(number: int) -> None:
        handle = connect()
        start_gate.wait()
        mine = latencies[number]
        for _ in range(per_client):
            began = time.perf_counter()
            if began > stop_at[0]:
                break
            fire_one(number, handle)
            mine.append(time.perf_counter() - began)
        if hasattr(handle, "close"):
            handle.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_gate.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    flat = [x for chunk in latencies for x in chunk]
    return len(flat), wall, flat


def http_level(
    port: int, level: int, per_client: int, seconds: float
) -> tuple[int, float, list[float]]:
    """Fire over HTTP from ``level`` clients, each on case ``h{level}-{n}``."""
    headers = {
        "Authorization": f"Bearer {SECRETARY_TOKEN}",
        "Content-Type": "application/json",
    }
    body = json.dumps({"event": "propose", "payload": PAYLOAD}).encode("utf-8")

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def fire_one(number: int, conn: http.client.HTTPConnection) -> None:
        conn.request("POST", f"/cases/h{level}-{number}/events", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}")

    return run_clients(level, per_client, seconds, fire_one, connect)


def open_http_cases(port: int, sha: str, level: int) -> None:
    """Open the cases one level uses, over HTTP."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for number in range(level):
        body = json.dumps({"id": f"h{level}-{number}", "procedure": sha, "data": DATA})
        conn.request("POST", "/cases", body=body.encode("utf-8"), headers={
            "Authorization": f"Bearer {SECRETARY_TOKEN}", "Content-Type": "application/json",
        })  # fmt: skip
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 201, answer.status
    conn.close()


def register(port: int) -> str:
    """Register the bundled procedure over HTTP; return its sha256."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/procedures", body=procedure_text().encode("utf-8"), headers={
        "Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/yaml",
    })  # fmt: skip
    answer = conn.getresponse()
    sha: str = json.loads(answer.read())["sha256"]
    conn.close()
    return sha


def open_in_process_cases(engine: Engine, level: int) -> None:
    """Open the cases one level uses, in process."""
    for number in range(level):
        engine.open_case(procedure(), f"p{level}-{number}", DATA, actor=SECRETARY)


def in_process_level(
    engine: Engine, level: int, per_client: int, seconds: float
) -> tuple[int, float, list[float]]:
    """Fire the same events in process from ``level`` threads, each on its own case."""

    def fire_one(number: int, _: Any) -> None:
        outcome = engine.fire(f"p{level}-{number}", "propose", actor=SECRETARY, payload=PAYLOAD)
        if not outcome.applied:
            raise RuntimeError(str(outcome.reason))

    return run_clients(level, per_client, seconds, fire_one, lambda: None)


def measure_level(
    port: int, server_pid: int, engine: Engine, *, level: int, per_round: int, seconds: float
) -> tuple[Any, ...]:
    """Alternate HTTP and in-process rounds at one level.

    Returns:
        (level, HTTP ev/s, in-process ev/s, HTTP latencies, in-process latencies,
        HTTP events, in-process events, server CPU s/event or None, in-process CPU s/event).
    """
    h_done = p_done = 0
    h_wall = p_wall = p_cpu = 0.0
    h_cpu: float | None = 0.0
    h_lat: list[float] = []
    p_lat: list[float] = []
    for _ in range(ROUNDS):
        before = process_cpu(server_pid)
        done, wall, lat = http_level(port, level, per_round, seconds)
        after = process_cpu(server_pid)
        h_done, h_wall, h_lat = h_done + done, h_wall + wall, h_lat + lat
        if h_cpu is not None and before is not None and after is not None:
            h_cpu += after - before
        else:
            h_cpu = None
        before_own = own_cpu()
        done, wall, lat = in_process_level(engine, level, per_round, seconds)
        p_cpu += own_cpu() - before_own
        p_done, p_wall, p_lat = p_done + done, p_wall + wall, p_lat + lat
    server_cpu = None if h_cpu is None else h_cpu / h_done
    return (
        level, h_done / h_wall, p_done / p_wall, h_lat, p_lat, h_done, p_done,
        server_cpu, p_cpu / p_done,
    )  # fmt: skip


def main() -> None:
    """Run every level both ways and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1600, help="events per level (at most)")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per level")
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="client counts, comma-separated"
    )
    args = parser.parse_args()
    levels = tuple(int(x) for x in args.levels.split(",") if x.strip())
    work = Path(args.dir or tempfile.mkdtemp(prefix="yishi-http-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tokens = token_file(work)
    port = free_port()
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(
        [str(YISHI), "serve", "--db", f"sqlite:///{work / 'http.db'}", "--port", str(port),
         "--tokens", str(tokens), "--no-access-log", "--limit-concurrency", "128"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    store = open_store(f"sqlite:///{work / 'inprocess.db'}")
    engine = Engine(store=store)
    rows = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        sha = register(port)
        for level in levels:
            # Alternating short rounds, so a change in the machine's load (other work on
            # a shared box) weighs on both sides alike rather than on whichever ran second.
            per_round = max(1, args.events // level // ROUNDS)
            seconds = args.seconds / ROUNDS
            open_http_cases(port, sha, level)
            open_in_process_cases(engine, level)
            rows.append(
                measure_level(
                    port, server.pid, engine, level=level, per_round=per_round, seconds=seconds
                )
            )
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        store.close()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("SQLite synchronous=FULL; HTTP via yishi serve on 127.0.0.1 (http.client keep-alive)")
    print(
        f"{'clients':>7} {'HTTP ev/s':>10} {'in-proc ev/s':>13} {'ratio':>6} "
        f"{'HTTP p50 ms':>11} {'HTTP p99 ms':>11} {'in-proc p99 ms':>14} {'events':>12} "
        f"{'server CPU µs/ev':>16} {'in-proc CPU µs/ev':>17}"
    )
    for level, h_rate, p_rate, h_lat, p_lat, h_done, p_done, h_cpu, p_cpu in rows:
        server_cpu = "n/a" if h_cpu is None else f"{h_cpu * 1e6:.0f}"
        print(
            f"{level:>7} {h_rate:>10.0f} {p_rate:>13.0f} {h_rate / p_rate:>6.2f} "
            f"{statistics.median(h_lat) * 1e3:>11.2f} {percentile(h_lat, 0.99) * 1e3:>11.2f} "
            f"{percentile(p_lat, 0.99) * 1e3:>14.2f} {h_done:>5}/{p_done:<6} "
            f"{server_cpu:>16} {p_cpu * 1e6:>17.0f}"
        )
    for level, h_rate, p_rate, *_ in rows:
        if level == GOAL_CLIENTS:
            ratio = h_rate / p_rate
            verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
            print(
                f"goal: {GOAL_CLIENTS} clients, HTTP/in-process {ratio:.2f} "
                f"≥ {GOAL_RATIO} ({verdict})"
            )


if __name__ == "__main__":
    main()
