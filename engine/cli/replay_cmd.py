"""``yishi replay``: re-execute an audit log and report the first divergence, or, with
``--under``, compare its outcomes with those of another procedure version."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.audit import LogUnreadable
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure
from engine.errors import EngineError, ProcedureInvalid, SourceUnreadable

if TYPE_CHECKING:
    from engine.runtime.whatif import WhatIfReport


def _procedures(paths: list[Path]) -> dict[str, CompiledProcedure]:
    found: dict[str, CompiledProcedure] = {}
    for path in paths:
        compiled = load_procedure(path)
        found[compiled.procedure.sha256] = compiled
    return found


def run_replay(path: Path, procedures: list[Path], *, as_of: str | None = None) -> int:
    """Replay every case in ``path``; 0 when every record is reproduced, 1 otherwise."""
    from rich.progress import Progress

    from engine.audit.jsonl import read_file
    from engine.audit.verify import verify_file
    from engine.runtime.replay import parse_as_of, replay_records

    try:
        moment = parse_as_of(as_of) if as_of is not None else None
        known = _procedures(procedures or sorted(Path("procedures").glob("*.yaml")))
        report = verify_file(path)
        if not report.ok:
            print(f"{path}: the log does not verify, so it cannot be replayed: {report.message}")
            return 1
        records = read_file(path)
        with Progress(transient=True, disable=len(records) < 5000) as progress:
            task = progress.add_task("replaying", total=len(records))
            result = replay_records(
                records,
                known.get,
                as_of=moment,
                progress=lambda done: progress.update(task, completed=done),
            )
    except ProcedureInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except SourceUnreadable as exc:
        print(f"{exc.location}: {exc.reason}", file=sys.stderr)
        return 1
    except LogUnreadable as exc:
        print(exc, file=sys.stderr)  # it names the file already
        return 1
    except (EngineError, ValueError, OSError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    used = "; ".join(f"{pid} {version} sha256 {sha}" for pid, version, sha in result.procedures)
    if result.divergence is not None:
        print(f"{path}: replay diverges at {result.divergence}")
        if used:
            print(f"replayed under {used}")
        return 1
    if moment is not None:
        for snapshot in result.snapshots:
            shown = {"case": snapshot.case, "seq": snapshot.seq, "at": snapshot.at,
                     "state": snapshot.state, "data": snapshot.data}  # fmt: skip
            print(json.dumps(shown, ensure_ascii=False, indent=2))
    print(f"ok: {result.records} records in {result.cases} case(s) reproduced exactly under {used}")
    return 0


def _count_words(counts: tuple[Any, ...]) -> str:
    parts = []
    for count in counts:
        words = [str(count.get("action"))]
        if "status" in count:
            words.append(str(count["status"]))
        if "elected" in count:
            elected = count["elected"]
            shown = "、".join(map(str, elected)) if isinstance(elected, list) else str(elected)
            words.append(f"elected {shown or '—'}")
        if "adopted" in count:
            words.append("adopted" if count["adopted"] else "not adopted")
        parts.append(" ".join(words))
    return "; ".join(parts) or "—"


def _print_table(report: WhatIfReport, under: Path) -> None:
    amended = report.amended
    print(f"under {under}: {amended['id']} {amended['version']} (sha256 {amended['sha256']})")
    for case in report.cases:
        print(f"\ncase {case.case} (recorded under sha256 {case.recorded_sha256[:12]}…, "
              f"{case.records} records)")  # fmt: skip
        if not case.differences:
            print("  no seq differs")
        for diff in case.differences:
            print(f"  seq {diff.seq} {diff.event or '(opened)'}: {', '.join(diff.changes)}")
            print(f"    recorded: {diff.recorded.summary()}")
            print(f"    amended:  {diff.amended.summary()}")
            if "count result" in diff.changes:
                print(f"    count recorded: {_count_words(diff.recorded.counts)}")
                print(f"    count amended:  {_count_words(diff.amended.counts)}")
            for before, after in diff.explanations:
                print(f"      - {before or '(none)'}")
                print(f"      + {after or '(none)'}")
        if case.stopped is not None:
            print(f"  stopped: the rest cannot be re-executed ({case.stopped})")
        mark = "same" if case.final_recorded == case.final_amended else "differs"
        print(f"  final state: recorded {case.final_recorded}, "
              f"amended {case.final_amended or '—'} ({mark})")  # fmt: skip
    verdict = "outcomes differ" if report.differs else "no outcome differs"
    print(f"\n{verdict} in {len(report.cases)} case(s)")


def run_whatif(path: Path, under: Path, *, as_json: bool = False) -> int:
    """Replay every case in ``path`` under ``under``; 0 when no outcome differs, 1 when some
    do, 2 when the comparison cannot be made (the log does not verify, a file is bad)."""
    from engine.audit.jsonl import read_file
    from engine.audit.verify import verify_file
    from engine.runtime.attempt import Runner
    from engine.runtime.whatif import what_if

    try:
        runner = Runner(load_procedure(under))
        verified = verify_file(path)
        if not verified.ok:
            print(f"{path}: the log does not verify, so it cannot be replayed: "
                  f"{verified.message}", file=sys.stderr)  # fmt: skip
            return 2
        report = what_if(read_file(path), runner)
    except ProcedureInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except (EngineError, ValueError, OSError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        _print_table(report, under)
    return 1 if report.differs else 0
