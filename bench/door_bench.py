"""What a request refused at the door costs, against an attempt that is applied.

Issue 9 asks that no token can make the server work in proportion to what it
sends before its role and payload are checked. This bench times, in one run on
the bundled 四议两公开 in memory:

* an applied ``propose`` by the secretary (the reference: one full attempt);
* the same attempt by an actor holding no role in the procedure (``Forbidden``
  at the door: nothing evaluated, nothing recorded), with a 500 KB payload;
* ``explain`` by a director (a role of the procedure, not the event's) with a
  500 KB payload: refused as not-authorised before the payload or any guard;
* ``explain`` by the secretary with a valid payload (guards evaluated).

Each figure is printed with its ratio to the applied attempt. The refusals must
stay a small fraction of it however large the payload.

Run: ``.venv/bin/python bench/door_bench.py [--count N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine.definition.loader import load_procedure
from engine.errors import Forbidden
from engine.runtime.clock import FixedClock
from engine.runtime.engine import Engine
from engine.runtime.types import Actor
from engine.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
PROCEDURE = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
DATA = {
    "matter": "村内主干道硬化",
    "branch_committee_members": 5,
    "two_committees_members": 9,
    "voting_party_members": 41,
    "representatives": 57,
    "reconvened": 0,
}
SECRETARY = Actor(id="张书记", roles=("branch_secretary",))
DIRECTOR = Actor(id="李主任", roles=("village_director",))
NOBODY = Actor(id="路人", roles=())
T0 = datetime(2024, 3, 1, 9, tzinfo=timezone(timedelta(hours=8)))
RECONVENE = {"present": 2, "yes": 2}
"""Applies and stays in drafting (too few present), so it can be repeated."""
HUGE = {"present": 2, "yes": 2, "minutes": "字" * 170_000}
"""About 500 KB of UTF-8."""


def best_of(repeat: int, count: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` timings of ``count`` calls, in microseconds per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(count):
            run()
        times.append((time.perf_counter() - start) / count)
    return min(times) * 1e6


def main() -> None:
    """Time each kind of request and print microseconds and the ratio to an applied one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    procedure = load_procedure(PROCEDURE)
    engine = Engine(store=MemoryStore(), clock=FixedClock(T0))
    engine.open_case(procedure, "c", DATA, actor=SECRETARY, at=T0)

    def applied() -> object:
        return engine.fire("c", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)

    def door() -> object:
        try:
            return engine.fire("c", "propose", actor=NOBODY, payload=HUGE, at=T0)
        except Forbidden:
            return None

    def explain_refused() -> object:
        return engine.explain("c", "propose", actor=DIRECTOR, payload=HUGE)

    def explain_guards() -> object:
        return engine.explain("c", "propose", actor=SECRETARY, payload=RECONVENE)

    reference = best_of(args.repeat, args.count, applied)
    print(f"applied propose                    {reference:9.1f} µs  1.00")
    for name, run in (
        ("no role, 500 KB payload (door)", door),
        ("explain, not the event's role, 500 KB", explain_refused),
        ("explain, guards evaluated", explain_guards),
    ):
        took = best_of(args.repeat, args.count, run)
        print(f"{name:<35}{took:9.1f} µs  {took / reference:.2f}")
    records = len(engine.records("c"))
    print(f"records written: {records} (1 opened + the applied attempts only)")


if __name__ == "__main__":
    main()
