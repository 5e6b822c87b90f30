"""``yishi demo``: the README's main job, end to end on the embedded SQLite store.

1. validate every bundled procedure (``procedures/*.yaml``);
2. run every happy-path scenario (``procedures/examples/*happy-path*.yaml``) with
   its case stored in a fresh SQLite database (``out/yishi-demo.db``), printing
   each step;
3. export each case's audit log from the database (``out/<case>.audit.jsonl``),
   verify its hash chain and replay it against the procedure.

The directory is looked for next to the package's source tree (a checkout or an
editable install) and then in the current directory (an installed wheel run from
a checkout, as ``make demo`` does).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from rich.markup import escape

from engine.bundled import procedures_dir as procedures_dir
from engine.cli.loading import load_or_report
from engine.cli.output import console
from engine.cli.run_cmd import show
from engine.errors import EngineError


def _safe_name(case_id: str) -> str:
    return re.sub(r"[^\w.-]+", "_", case_id) or "case"


def run_demo(out: Path = Path("out")) -> int:
    """Validate, run, export, verify and replay; print what happens at each step.

    Returns:
        0 when every procedure is valid, every scenario's expectations hold and every
        audit log verifies and replays; 1 otherwise.
    """
    if out.exists() and not out.is_dir():
        print(f"error: --out {out}: is not a directory; name a directory", file=sys.stderr)
        return 1
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: --out {out}: cannot create it: {exc.strerror or exc}", file=sys.stderr)
        return 1
    directory = procedures_dir()
    if directory is None:
        print(
            "error: no procedures/ directory with YAML files found next to the engine "
            "package or in the current directory; run yishi demo from the repository root",
            file=sys.stderr,
        )
        return 1
    screen = console()
    files = sorted(directory.glob("*.yaml"))
    failed = 0
    for path in files:
        loaded = load_or_report(path)
        if loaded is None:
            failed += 1
        else:
            screen.print(escape(f"✓ {path.name}: {loaded.procedure.title} — valid"))
    scenarios = sorted((directory / "examples").glob("*happy-path*.yaml"))
    database = out / "yishi-demo.db"
    for stale in out.glob("yishi-demo.db*"):
        stale.unlink()
    for scenario_path in scenarios:
        if not _run_one(scenario_path, f"sqlite:///{database}", out):
            failed += 1
    verdict = "[green]all good[/green]" if not failed else f"[red]{failed} failure(s)[/red]"
    screen.print(
        f"{len(files)} procedure(s) validated, {len(scenarios)} scenario(s) run on "
        f"{escape(str(database))}: {verdict}"
    )
    return 1 if failed else 0


def _run_one(path: Path, url: str, out: Path) -> bool:
    from engine.audit.verify import verify_file
    from engine.runtime.engine import Engine
    from engine.runtime.replay import replay_records
    from engine.runtime.scenario import load_scenario, run_scenario

    screen = console()
    screen.rule(escape(path.name))
    try:
        scenario = load_scenario(path)
        with Engine.from_url(url) as engine:
            result = run_scenario(scenario, engine=engine)
            audit = out / f"{_safe_name(result.opened.case)}.audit.jsonl"
            audit.write_bytes(b"".join(engine.export_lines(result.opened.case)))
    except EngineError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return False
    show(result)
    report = verify_file(audit)
    if not report.ok:
        screen.print(escape(f"✗ {audit}: {report.message}"))
        return False
    replayed = replay_records(
        result.records,
        lambda sha: result.procedure if sha == result.procedure.procedure.sha256 else None,
    )
    if not replayed.ok:
        screen.print(escape(f"✗ replay of {audit} diverges: {replayed.divergence}"))
        return False
    screen.print(
        escape(
            f"audit log exported from the database to {audit}: {report.records} records, "
            f"hash chain verified, every record reproduced by replay"
        )
    )
    return result.ok
