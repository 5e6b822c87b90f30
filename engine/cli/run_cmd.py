"""``yishi run SCENARIO``: run a dry run, print each step, write and verify the audit log.

The table folds long text onto further lines rather than cutting it with "…" (an
explanation in Chinese is one long "word" to a line breaker), and under each CEL
guard it shows the values the guard read, each bounded, so a refusal can be
understood without opening the audit JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.markup import escape

from engine.cli.output import console, print_problems
from engine.errors import EngineError, ProcedureError, ProcedureInvalid, SourceUnreadable
from engine.runtime.scenario import ScenarioResult, load_scenario, run_scenario

MAX_READS = 8
"""The most values shown under one CEL guard; the rest are counted."""
MAX_VALUE_CHARS = 60
"""The longest value shown in full; a longer one shows its start and its length."""


def run_scenario_command(
    path: Path,
    *,
    audit: Path | None = None,
    db: str | None = None,
    signing_key: Path | None = None,
) -> int:
    """Run the scenario at ``path``; return 0 when every expectation held, else 1.

    With ``db`` (a store URL) the case is stored there; otherwise it lives in memory.
    With ``signing_key`` every record is signed with it, as ``yishi case`` and
    ``yishi serve`` sign theirs, so ``verify --public-key`` accepts the trail.
    """
    if audit is not None:
        # Checked before anything runs, so a bad --audit stores nothing with --db.
        problem = _audit_target_problem(audit)
        if problem is not None:
            print(f"{audit}: {problem}", file=sys.stderr)
            return 1
    signer = None
    if signing_key is not None:
        # Read before the store is opened: a bad key changes nothing.
        from engine.audit.signing import KeyFileError, load_signer

        try:
            signer = load_signer(signing_key)
        except KeyFileError as exc:
            print(f"yishi: error: --signing-key: {exc}", file=sys.stderr)
            return 1
    try:
        scenario = load_scenario(path)
        if db is None:
            result = run_scenario(scenario)
        else:
            from engine.runtime.engine import Engine

            with Engine.from_url(db, signer=signer) as engine:
                result = run_scenario(scenario, engine=engine)
    except ProcedureInvalid as exc:
        print_problems(exc.problems)
        return 1
    except SourceUnreadable as exc:
        print(f"{exc.location}: {exc.reason}", file=sys.stderr)
        return 1
    except (ProcedureError, EngineError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    show(result)
    if audit is not None:
        from engine.audit.jsonl import write_file
        from engine.audit.verify import verify_file

        try:
            write_file(audit, result.records)
            report = verify_file(audit)
        except (OSError, EngineError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"{audit}: cannot write the audit log: {reason}", file=sys.stderr)
            return 1
        state = "verified" if report.ok else f"FAILED verification: {report.message}"
        console().print(escape(f"audit log: {audit} ({len(result.records)} records, {state})"))
        if not report.ok:
            return 1
    return 0 if result.ok else 1


def _audit_target_problem(audit: Path) -> str | None:
    """Why ``--audit`` cannot be written (a directory, a missing directory), or None."""
    if audit.is_dir():
        return "is a directory; name a file for the audit log, e.g. --audit case.jsonl"
    if audit.exists() and not audit.is_file():
        return "is not a regular file; name a file for the audit log"
    parent = audit.parent
    if not parent.is_dir():
        return f"the directory {parent} does not exist; create it first"
    return None


def show(result: ScenarioResult) -> None:
    """Print the steps as a table, then the expectations."""
    from rich.table import Table

    procedure = result.procedure.procedure
    out = console()
    title = result.scenario.body.get("title", "")
    out.print(
        f"[bold]{escape(procedure.title)}[/bold] ({procedure.id} {procedure.version})  "
        f"case {escape(result.opened.case)}"
    )
    if title:
        out.print(escape(title))
    table = Table(show_lines=True)
    for column in ("seq", "at / actor", "event", "outcome", "why"):
        table.add_column(column, overflow="fold")
    states = procedure.states
    opened = result.opened.record
    table.add_row(
        "1",
        escape(f"{opened['at']}\n{opened['actor']['id']}"),
        "(open case)",
        escape(f"opened → {opened['to']} {states[opened['to']].label}"),
        "",
    )
    for step in result.steps:
        for outcome in step.outcomes:
            record = outcome.record
            spec = procedure.events.get(outcome.event or "")
            label = spec.label if spec is not None else ""
            target = states.get(outcome.to_state)
            move = f"{outcome.from_state} → {outcome.to_state}"
            if target is not None:
                move += f" {target.label}"
            colour = "green" if outcome.applied else "red"
            verdict = "applied" if outcome.applied else "refused"
            if record["kind"] == "timer.fired":
                verdict = f"timer {verdict}"
            if outcome.reason is not None:
                failed = [g for g in outcome.guards if not g["result"]]
                why = "\n".join(
                    [f"[{outcome.reason.code}] {outcome.reason.message}"]
                    + [line for g in failed for line in _reads_lines(g)]
                )
            else:
                taken = _taken(outcome)
                why = "\n".join(
                    [
                        line
                        for g in outcome.guards
                        if g["transition"] == taken
                        for line in [str(g["explanation"]), *_reads_lines(g)]
                    ]
                    + _action_explanations(record)
                )
            table.add_row(
                str(outcome.seq),
                escape(f"{record['at']}\n{record['actor']['id']}"),
                escape(f"{outcome.event}\n{label}"),
                f"[{colour}]{verdict}[/{colour}]\n" + escape(move),
                escape(why),
            )
    out.print(table)
    out.print(f"final state: {result.final_state} ({states[result.final_state].label})")
    for step in result.steps:
        for mismatch in step.mismatches:
            out.print(f"[red]✗ {escape(mismatch)}[/red]")
    for mismatch in result.mismatches:
        out.print(f"[red]✗ {escape(mismatch)}[/red]")
    if result.ok:
        out.print("[green]✓ every expectation held[/green]")


def _reads_lines(guard: Mapping[str, Any]) -> list[str]:
    """``  read: path = value`` for each value a CEL guard read, bounded in count and length."""
    inputs = guard.get("inputs")
    reads = inputs.get("reads") if isinstance(inputs, dict) else None
    if guard.get("kind") != "cel" or not isinstance(reads, dict) or not reads:
        return []
    shown = [f"{path} = {_bounded(value)}" for path, value in list(reads.items())[:MAX_READS]]
    if len(reads) > MAX_READS:
        shown.append(f"and {len(reads) - MAX_READS} more")
    return ["  read: " + "; ".join(shown)]


def _bounded(value: Any) -> str:
    """A value as JSON, at most ``MAX_VALUE_CHARS`` of it, saying how long the rest is."""
    import json

    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:MAX_VALUE_CHARS]}… ({len(text)} characters)"


def _action_explanations(record: Mapping[str, Any]) -> list[str]:
    """The explanation lines governance actions return (every count of a ballot round)."""
    lines: list[str] = []
    for action in record.get("actions") or []:
        output = action.get("output") if isinstance(action, dict) else None
        explanation = output.get("explanation") if isinstance(output, dict) else None
        if isinstance(explanation, str):
            lines.append(explanation)
        elif isinstance(explanation, list):
            lines.extend(str(line) for line in explanation)
    return lines


def _taken(outcome: object) -> int | None:
    from engine.runtime.types import Outcome

    assert isinstance(outcome, Outcome)
    passed = {g["transition"] for g in outcome.guards if g["result"]}
    failed = {g["transition"] for g in outcome.guards if not g["result"]}
    chosen = sorted(passed - failed)
    return chosen[0] if chosen else None
