"""Time to render the workbench's case page (1,000 records) and cases list (100,000 cases).

In process (Starlette's TestClient, no sockets), on a SQLite store (``sync=normal``
for the set-up only; reads do not fsync). The case page is timed whole (records
read, chain verified, timeline worded, template rendered), as it opens (the newest
200 records in the timeline) and with every record shown, and its diagram apart
(Graphviz ``dot`` runs per request). The list is timed on its first page, on a
page ten pages deep (keyset paging: the same cost however deep), with a state
filter, and with a text search (which scans at most 5,000 cases per page).
Each figure is the median of a bounded number of requests. Prints the figures;
no goal is asserted.

Usage: ``python bench/web_bench.py [--records N] [--cases N] [--repeat N] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fastapi.testclient import TestClient  # noqa: E402
from server_support import DATA, SECRETARY_TOKEN, compiled, token_table  # noqa: E402

from engine.runtime.engine import Engine  # noqa: E402
from engine.server import create_app  # noqa: E402
from engine.storage import open_store  # noqa: E402

SECRETARY = {"id": "张书记", "roles": ["branch_secretary"]}


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``run`` in milliseconds over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def sign_in(http: TestClient) -> None:
    page = http.get("/ui/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    http.post("/ui/signin", data={"csrf": csrf.group(1), "token": SECRETARY_TOKEN})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="yishi-web-bench-", dir=args.dir))
    try:
        store = open_store(f"sqlite:///{folder / 'web.db'}?sync=normal")
        engine = Engine(store=store)
        procedure = compiled()
        engine.register(procedure)

        start = time.perf_counter()
        engine.open_case(procedure, "long-case", DATA, actor=SECRETARY)
        for _ in range(args.records - 1):
            # Too few present: applied, the case stays in drafting and can meet again.
            engine.fire("long-case", "propose", actor=SECRETARY, payload={"present": 2, "yes": 2})
        built_case = time.perf_counter() - start
        start = time.perf_counter()
        for n in range(args.cases - 1):
            engine.open_case(procedure, f"case-{n:06d}", DATA, actor=SECRETARY)
        built_list = time.perf_counter() - start

        http = TestClient(create_app(engine, token_table()))
        sign_in(http)
        shown = http.get("/ui/cases/long-case?all=1").text.count('class="record ')
        assert shown == args.records
        page_ms = median_ms(lambda: http.get("/ui/cases/long-case"), args.repeat)
        all_ms = median_ms(lambda: http.get("/ui/cases/long-case?all=1"), args.repeat)
        svg_ms = median_ms(lambda: http.get("/ui/cases/long-case/diagram.svg"), args.repeat)
        first_ms = median_ms(lambda: http.get("/ui/cases"), args.repeat)
        cursor = None
        for _ in range(10):
            text = http.get("/ui/cases" + (f"?after={cursor}" if cursor else "")).text
            found = re.search(r'id="next-page" href="[^"]*after=([^"]+)"', text)
            assert found is not None
            cursor = found.group(1)
        deep_ms = median_ms(lambda: http.get(f"/ui/cases?after={cursor}"), args.repeat)
        state_ms = median_ms(lambda: http.get("/ui/cases?state=drafting"), args.repeat)
        search_ms = median_ms(lambda: http.get("/ui/cases?q=case-0000"), args.repeat)
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"set-up: a case of {args.records} records in {built_case:.1f} s; "
          f"{args.cases} cases in {built_list:.1f} s")  # fmt: skip
    print(f"case page, {args.records} records, newest 200 shown (median of {args.repeat}): "
          f"{page_ms:.1f} ms")  # fmt: skip
    print(f"case page, {args.records} records, all shown:    {all_ms:.1f} ms")
    print(f"case diagram SVG (Graphviz dot):          {svg_ms:.1f} ms")
    print(f"cases list, {args.cases} cases, first page:       {first_ms:.1f} ms")
    print(f"cases list, page 11 (keyset cursor):          {deep_ms:.1f} ms")
    print(f"cases list, state filter:                     {state_ms:.1f} ms")
    print(f"cases list, text search (scans ≤ 5,000/page): {search_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
