"""How fast the ``yishi`` command starts, and what its entry module imports.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/startup.py [--runs N]

It prints wall times (best and median of N runs) of ``yishi --help`` and
``yishi validate procedures/*.yaml``, the import time of ``engine`` and of
``engine.cli.main`` from ``python -X importtime``, and the heavy modules each
loads. Timings are figures to compare between commits, never pass/fail; the
one assertion is behavioural: importing ``engine.cli.main`` alone loads none of
the heavy modules (each command imports what it needs when it runs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
YISHI = str(Path(PYTHON).with_name("yishi"))
HEAVY = ("cel", "jsonschema", "rich", "transitions", "yaml", "fastjsonschema", "structlog")
MUST_BE_LAZY = ("cel", "jsonschema", "rich", "transitions")

_LOADED = (
    "import sys\n"
    "{setup}\n"
    "roots = sorted({{name.split('.')[0] for name in sys.modules}} & set({heavy!r}))\n"
    "print(','.join(roots), file=sys.stderr)\n"
)


def wall(command: list[str], runs: int) -> tuple[float, float]:
    """Best and median wall time of a command, in milliseconds.

    Args:
        command: the command line.
        runs: how many times to run it.

    Returns:
        (best, median) in milliseconds.

    Raises:
        SystemExit: when the command fails (its stderr is printed).
    """
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, cwd=ROOT, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode("utf-8", "replace"))
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}")
    return min(times), statistics.median(times)


def import_time(module: str, runs: int) -> float:
    """Best cumulative import time of ``module`` in a fresh interpreter, in milliseconds.

    Args:
        module: a dotted module name.
        runs: how many fresh interpreters to measure.

    Returns:
        The smallest cumulative time ``-X importtime`` reports for the module.
    """
    best = float("inf")
    for _ in range(runs):
        done = subprocess.run(
            [PYTHON, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        for line in done.stderr.splitlines():
            # "import time:       self [us] |  cumulative | imported package"
            parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                best = min(best, int(parts[1]) / 1000)
    return best


def slowest_packages(setup: str, top: int) -> list[tuple[str, float]]:
    """The top-level packages that take longest to import while running ``setup``.

    Args:
        setup: Python statements (an import, or running the CLI).
        top: how many to return.

    Returns:
        (package, cumulative milliseconds), slowest first.
    """
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", setup],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[1].isdigit() and "." not in parts[2]:
            found[parts[2]] = max(found.get(parts[2], 0.0), int(parts[1]) / 1000)
    return sorted(found.items(), key=lambda item: -item[1])[:top]


def heavy_loaded(setup: str) -> list[str]:
    """The heavy top-level modules loaded after running ``setup`` in a fresh interpreter.

    Args:
        setup: Python statements (an import, or running the CLI).

    Returns:
        The names from ``HEAVY`` found in ``sys.modules``, sorted.
    """
    done = subprocess.run(
        [PYTHON, "-c", _LOADED.format(setup=setup, heavy=HEAVY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return [name for name in last.split(",") if name]


def main() -> None:
    """Measure and print the startup figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
    runs = parser.parse_args().runs
    procedures = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "procedures").glob("*.yaml"))

    print(f"yishi startup ({runs} runs each; best / median)")
    for name, command in (
        ("yishi --help", [YISHI, "--help"]),
        (f"yishi validate procedures/*.yaml ({len(procedures)})", [YISHI, "validate", *procedures]),
        ("python -c pass (interpreter alone)", [PYTHON, "-c", "pass"]),
    ):
        best, median = wall(command, runs)
        print(f"  {name:<44} {best:8.1f} ms {median:8.1f} ms")

    print("import time (python -X importtime, cumulative, best)")
    for module in ("engine", "engine.cli.main"):
        print(f"  import {module:<37} {import_time(module, runs):8.1f} ms")

    def cli(*args: str) -> str:
        return (
            "from engine.cli.main import app\n"
            f"try:\n    app({list(args)!r}, standalone_mode=False)\nexcept SystemExit:\n    pass"
        )

    print("heavy modules loaded (of " + ", ".join(HEAVY) + ")")
    lazy = heavy_loaded("import engine.cli.main")
    for name, loaded in (
        ("import engine", heavy_loaded("import engine")),
        ("import engine.cli.main", lazy),
        ("yishi --help", heavy_loaded(cli("--help"))),
        ("yishi validate", heavy_loaded(cli("validate", *procedures))),
    ):
        print(f"  {name:<44} {', '.join(loaded) or 'none'}")

    print("slowest top-level imports during yishi validate (cumulative)")
    for package, took in slowest_packages(cli("validate", *procedures), top=6):
        print(f"  {package:<44} {took:8.1f} ms")

    eager = sorted(set(lazy) & set(MUST_BE_LAZY))
    assert not eager, f"engine.cli.main imports {', '.join(eager)} at startup; import on use"


if __name__ == "__main__":
    main()
