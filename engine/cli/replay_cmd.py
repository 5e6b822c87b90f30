"""``yishi replay``: re-execute an audit log and report the first divergence."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.audit import LogUnreadable
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure
from engine.errors import EngineError, ProcedureInvalid, SourceUnreadable


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
