"""Run yishi's benchmark scripts, one after another, each printing its own ratios.

Each script in bench/ measures one goal of the design as ratios taken in one run (never
wall-clock limits). ``python bench/run.py`` runs every script; ``python bench/run.py
engine_bench verify_bench`` runs the named ones; ``--list`` names them; ``--goals`` runs
the scripts that print the performance goals of the design (the event, opening a case,
the peers, durable SQLite and group commit, HTTP with 8 clients, verify), in one run.
A script that fails is reported and the rest still run; the exit status says whether
any failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOALS = ("engine_bench", "peers", "store_bench", "http_bench", "verify_bench")
"""The scripts whose figures the design's performance goals name, in the order they print."""


def scripts() -> list[Path]:
    """Every benchmark script beside this one."""
    return sorted(p for p in HERE.glob("*.py") if p.name != "run.py")


def main(argv: list[str]) -> int:
    known = {p.stem: p for p in scripts()}
    if "--list" in argv:
        print("\n".join(known))
        return 0
    if "--goals" in argv:
        argv = [name for name in argv if name != "--goals"] + list(GOALS)
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(f"run.py: no such benchmark: {', '.join(unknown)} (--list names them)")
        return 2
    chosen = [known[name] for name in argv] or list(known.values())
    failed: list[str] = []
    for script in chosen:
        print(f"\n== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
