"""A legitimate client's p99 on an idle server and under attack (a ratio, one run).

A real ``yishi serve`` on 127.0.0.1 (SQLite store). A legitimate client reads,
explains and fires on its own case over one keep-alive connection, first on the
idle server, then while another process attacks it (``tests/hostile_support.py``:
200 idle sockets, dribbled heads and bodies, a no-role token, oversized and
pathological bodies, an expensive guard). Prints p50 and p99 of both phases,
the p99 ratio, and what the hostile requests were answered. Each phase is
bounded by a count and by time.

Usage: ``python bench/hostile_bench.py [--requests N] [--seconds S] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile_support import legit_latencies, p99, setup_costly_case  # noqa: E402
from server_support import live_server, open_case, register  # noqa: E402


def main() -> None:
    """Run both phases and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="legitimate requests per phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the attack")
    parser.add_argument("--dir", type=Path, default=None, help="where the store goes")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(dir=options.dir) as scratch,
        live_server(Path(scratch), "--no-access-log", "--header-timeout", "2") as server,
    ):
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert open_case(client, register(client), "legit").status_code == 201
            setup_costly_case(client)
        idle = legit_latencies(server.url, "legit", options.requests, 300)
        attacker = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "hostile_support.py"), "--url", server.url,
             "--case", "legit", "--seconds", str(options.seconds)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.0)
        attacked = legit_latencies(server.url, "legit", options.requests, options.seconds)
        out, _ = attacker.communicate(timeout=options.seconds + 120)
    tally = json.loads(out.strip().splitlines()[-1])
    for name, values in (("idle", idle), ("attacked", attacked)):
        print(
            f"{name:>9}: {len(values)} requests, p50 {statistics.median(values) * 1000:.2f} ms, "
            f"p99 {p99(values) * 1000:.2f} ms"
        )
    print(f"p99 ratio attacked/idle: {p99(attacked) / p99(idle):.2f}")
    print(f"hostile answers: {json.dumps(tally['statuses'], sort_keys=True)}")
    print(f"hostile sockets opened: {tally['sockets']}")


if __name__ == "__main__":
    main()
