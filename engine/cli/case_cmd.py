"""``yishi case …``: open, fire, show, list, history, export, import and explain stored cases.

Every command takes ``--db URL`` (default ``$YISHI_DB``, else ``sqlite:///yishi.db``),
prints a readable table, or JSON with ``--json``. An error (unknown case, conflict,
corrupt or newer database, wrong URL, unreachable server) is one line on stderr
and exit status 1, never a traceback. ``case fire`` exits 0 when the event was
applied and 2 when it was refused (the refusal is recorded all the same).

Only typer is imported at module level: ``yishi --help`` must stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from engine.runtime.engine import Engine
    from engine.runtime.types import Outcome

case_app = typer.Typer(
    name="case",
    help="Work with cases in a store: open, fire, show, list, history, export, import, explain.",
    no_args_is_help=True,
)

Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL: sqlite:///path.db, postgresql://user@host/db or memory:// "
        "(default: $YISHI_DB, else sqlite:///yishi.db).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
CaseId = Annotated[str, typer.Argument(help="The case id.", show_default=False)]
ActorId = Annotated[str, typer.Option("--actor", help="Who fires it (an id).")]
Roles = Annotated[
    list[str] | None, typer.Option("--role", help="A role the actor holds (repeatable).")
]
At = Annotated[str | None, typer.Option("--at", help="When (RFC 3339 with offset; default: now).")]
Key = Annotated[str | None, typer.Option("--key", help="Idempotency key: a retry applies once.")]


class UsageProblem(Exception):
    """A command-line value cannot be used (bad JSON, bad time); printed as one line."""


def fail(message: str) -> int:
    """Print ``yishi: error: message`` on stderr; return exit status 1."""
    print(f"yishi: error: {message}", file=sys.stderr)
    return 1


def guarded(run: Callable[[], int]) -> int:
    """Run a command body, turning every expected failure into one line and status 1."""
    from engine.errors import EngineError

    try:
        return run()
    except (EngineError, UsageProblem, OSError) as exc:
        return fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))


@contextmanager
def engine_on(db: str | None) -> Iterator[Engine]:
    """An engine on the store ``db`` names, closed afterwards."""
    from engine.runtime.engine import Engine
    from engine.storage.url import open_store

    store = open_store(db)
    try:
        yield Engine(store=store)
    finally:
        store.close()


def read_json(text: str | None, what: str) -> dict[str, Any]:
    """``--data``/``--payload``: inline JSON, or ``@file`` holding JSON.

    Raises:
        UsageProblem: when it is not a JSON object or the file cannot be read.
    """
    if text is None:
        return {}
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"{what}: cannot read {text[1:]}: {exc.strerror}") from exc
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise UsageProblem(f"{what} must be a JSON object, e.g. '{{\"present\": 4}}'")
    return value


def parse_at(text: str | None) -> Any:
    """``--at`` as a datetime (None when omitted).

    Raises:
        UsageProblem: when it is not an RFC 3339 time with an offset.
    """
    if text is None:
        return None
    from engine.runtime.clock import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageProblem(f"--at {text!r}: {exc}") from exc


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON (UTF-8, non-ASCII kept)."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The machine form of an outcome."""
    reason = outcome.reason
    return {
        "case": outcome.case,
        "seq": outcome.seq,
        "status": outcome.status,
        "event": outcome.event,
        "from": outcome.from_state,
        "to": outcome.to_state,
        "reason": reason.record() if reason is not None else None,
        "replayed": outcome.replayed,
        "hash": outcome.record.get("hash"),
    }


def show_outcome(outcome: Outcome) -> None:
    """Print an outcome in words, with every guard's explanation."""
    from rich.markup import escape

    from engine.cli.output import console

    out = console()
    colour = "green" if outcome.applied else "red"
    again = " (idempotent retry: first outcome)" if outcome.replayed else ""
    move = f"{outcome.from_state or '—'} → {outcome.to_state}"
    out.print(
        f"[{colour}]{outcome.status}[/{colour}] case {escape(outcome.case)} seq {outcome.seq}: "
        f"{escape(str(outcome.event or 'open'))}  {escape(move)}{again}"
    )
    if outcome.reason is not None:
        out.print("  " + escape(f"[{outcome.reason.code}] {outcome.reason.message}"))
    for guard in outcome.guards:
        mark = "✓" if guard.get("result") else "✗"
        out.print(f"  {mark} {escape(str(guard.get('explanation', '')))}")


# -- commands ---------------------------------------------------------------------------------


@case_app.command("open")
def open_command(
    procedure: Annotated[Path, typer.Argument(help="The procedure file (YAML).")],
    case_id: CaseId,
    *,
    actor: ActorId,
    role: Roles = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Initial data: JSON, or @file.json.")
    ] = None,
    at: At = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Open a case in the procedure's initial state."""

    def run() -> int:
        from engine.cli.loading import load_or_report
        from engine.runtime.types import Actor

        compiled = load_or_report(procedure)
        if compiled is None:
            return 1
        initial = read_json(data, "--data")
        when = parse_at(at)
        with engine_on(db) as engine:
            who = Actor(id=actor, roles=tuple(role or ()))
            outcome = engine.open_case(compiled, case_id, initial, actor=who, at=when)
        if as_json:
            emit_json(outcome_json(outcome))
        else:
            show_outcome(outcome)
        return 0

    raise typer.Exit(guarded(run))


@case_app.command("fire")
def fire_command(
    case_id: CaseId,
    event: Annotated[str, typer.Argument(help="The event id.", show_default=False)],
    *,
    actor: ActorId,
    role: Roles = None,
    payload: Annotated[
        str | None, typer.Option("--payload", help="The payload: JSON, or @file.json.")
    ] = None,
    at: At = None,
    key: Key = None,
    expected_seq: Annotated[
        int | None,
        typer.Option("--expected-seq", help="Refuse with a conflict unless the case is at it."),
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Attempt an event; exit 0 when applied, 2 when refused (recorded with its reason)."""

    def run() -> int:
        from engine.runtime.types import Actor

        body = read_json(payload, "--payload")
        when = parse_at(at)
        with engine_on(db) as engine:
            outcome = engine.fire(
                case_id,
                event,
                actor=Actor(id=actor, roles=tuple(role or ())),
                payload=body,
                at=when,
                idempotency_key=key,
                expected_seq=expected_seq,
            )
        if as_json:
            emit_json(outcome_json(outcome))
        else:
            show_outcome(outcome)
        return 0 if outcome.applied else 2

    raise typer.Exit(guarded(run))


@case_app.command("show")
def show_command(case_id: CaseId, db: Db = None, as_json: AsJson = False) -> None:
    """Show a case: procedure, state, seq, head, deadline and data."""

    def run() -> int:
        with engine_on(db) as engine:
            view = engine.case(case_id, history=False)
        if as_json:
            emit_json(
                {
                    "case": view.id,
                    "procedure": dict(view.procedure),
                    "state": view.state,
                    "final": view.final,
                    "seq": view.seq,
                    "head": view.head,
                    "deadline": dict(view.deadline) if view.deadline else None,
                    "data": dict(view.data),
                }
            )
            return 0
        from rich.markup import escape
        from rich.table import Table

        from engine.cli.output import console

        table = Table(show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        procedure = view.procedure
        rows = [
            ("case", view.id),
            (
                "procedure",
                f"{procedure['id']} {procedure['version']} ({procedure['sha256'][:12]}…)",
            ),
            ("state", view.state + (" (final)" if view.final else "")),
            ("seq", str(view.seq)),
            ("head", view.head),
            (
                "deadline",
                f"{view.deadline['event']} at {view.deadline['at']}" if view.deadline else "—",
            ),
            ("data", json.dumps(dict(view.data), ensure_ascii=False, indent=2)),
        ]
        for name, value in rows:
            table.add_row(name, escape(value))
        console().print(table)
        return 0

    raise typer.Exit(guarded(run))


def _deadline_text(deadline: Mapping[str, str] | None) -> str:
    return f"{deadline['event']} at {deadline['at']}" if deadline else "—"


@case_app.command("list")
def list_command(
    *,
    procedure: Annotated[str | None, typer.Option("--procedure", help="Procedure id.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="State id.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Updated at or after this time (RFC 3339).")
    ] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Updated before this time (RFC 3339).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Page size.")] = 50,
    after: Annotated[
        str | None, typer.Option("--after", help="The cursor printed after the previous page.")
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """List cases, most recently updated first, a page at a time."""

    def run() -> int:
        from engine.storage.base import CaseFilter
        from engine.storage.url import open_store

        where = CaseFilter(
            procedure=procedure,
            state=state,
            updated_since=parse_at(since),
            updated_before=parse_at(before),
        )
        store = open_store(db)
        try:
            page = store.list_cases(where, after=after, limit=limit)
        finally:
            store.close()
        if as_json:
            emit_json(
                {
                    "cases": [
                        {
                            "case": c.id,
                            "procedure": c.procedure_id,
                            "version": c.procedure_version,
                            "state": c.state,
                            "final": c.final,
                            "seq": c.seq,
                            "updated_at": c.updated_at,
                        }
                        for c in page.cases
                    ],
                    "next": page.next,
                }
            )
            return 0
        from rich.markup import escape
        from rich.table import Table

        from engine.cli.output import console

        table = Table()
        for column in ("case", "procedure", "state", "seq", "updated", "deadline"):
            table.add_column(column)
        for c in page.cases:
            due = f"{c.deadline_event} {c.deadline_at.isoformat()}" if c.deadline_at else ""
            table.add_row(
                escape(c.id),
                escape(f"{c.procedure_id} {c.procedure_version}"),
                escape(c.state + (" (final)" if c.final else "")),
                str(c.seq),
                c.updated_at,
                escape(due),
            )
        out = console()
        out.print(table)
        if page.next is not None:
            out.print(escape(f"more: --after '{page.next}'"))
        return 0

    raise typer.Exit(guarded(run))


@case_app.command("history")
def history_command(case_id: CaseId, db: Db = None, as_json: AsJson = False) -> None:
    """Show a case's audit records: who did what, when, and what became of it."""

    def run() -> int:
        with engine_on(db) as engine:
            records = engine.records(case_id)
        if as_json:
            emit_json(records)
            return 0
        from rich.markup import escape
        from rich.table import Table

        from engine.cli.output import console

        table = Table(show_lines=True)
        for column in ("seq", "at", "kind", "event", "actor", "from → to", "why"):
            table.add_column(column)
        for record in records:
            reason = record.get("reason")
            why = f"[{reason['code']}] {reason['message']}" if reason else ""
            table.add_row(
                str(record["seq"]),
                str(record["at"]),
                str(record["kind"]),
                escape(str(record.get("event") or "")),
                escape(str(record["actor"]["id"])),
                escape(f"{record.get('from') or '—'} → {record['to']}"),
                escape(why),
            )
        console().print(table)
        return 0

    raise typer.Exit(guarded(run))


@case_app.command("export")
def export_command(
    case_ids: Annotated[list[str], typer.Argument(help="Case ids.", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
    db: Db = None,
) -> None:
    """Write cases' audit logs (JSONL), byte for byte as stored and hashed."""

    def run() -> int:
        from engine.runtime.transfer import export_case

        with engine_on(db) as engine:
            lines = [line for case_id in case_ids for line in export_case(engine, case_id)]
        if output is None:
            sys.stdout.buffer.write(b"".join(lines))
            sys.stdout.buffer.flush()
        else:
            _write_atomic(output, lines)
            print(f"{output}: {len(lines)} record(s) of {len(case_ids)} case(s)", file=sys.stderr)
        return 0

    raise typer.Exit(guarded(run))


def _write_atomic(path: Path, lines: list[bytes]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "wb") as handle:
        handle.write(b"".join(lines))
        handle.flush()
        import os

        os.fsync(handle.fileno())
    temp.replace(path)


@case_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="An audit log (JSONL).", show_default=False)],
    procedure: Annotated[
        list[Path] | None,
        typer.Option("--procedure", "-p", help="Procedure files the cases ran under."),
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Verify and replay an audit log, then store its cases (a broken chain stores nothing)."""

    def run() -> int:
        from engine.runtime.transfer import import_log

        lookup = _procedure_lookup(procedure or [])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageProblem(f"{path}: cannot read: {exc.strerror}") from exc
        lines = data.splitlines(keepends=True)
        with engine_on(db) as engine:
            done = import_log(engine, lines, lookup)
        if as_json:
            emit_json([{"case": d.case, "seq": d.seq, "state": d.state} for d in done])
        else:
            for d in done:
                print(f"imported case {d.case}: {d.seq} record(s), state {d.state}")
        return 0

    raise typer.Exit(guarded(run))


def _procedure_lookup(paths: list[Path]) -> Callable[[str], Any]:
    """Find a compiled procedure by sha256 among files (compiled on first use)."""
    from engine.definition.loader import load_procedure

    loaded: dict[str, Any] = {}

    def lookup(sha256: str) -> Any:
        if not loaded:
            for path in paths:
                compiled = load_procedure(path)
                loaded[compiled.procedure.sha256] = compiled
        return loaded.get(sha256)

    return lookup


@case_app.command("explain")
def explain_command(
    case_id: CaseId,
    event: Annotated[str, typer.Argument(help="The event id.", show_default=False)],
    *,
    actor: Annotated[str | None, typer.Option("--actor", help="Who would fire it.")] = None,
    role: Roles = None,
    payload: Annotated[
        str | None, typer.Option("--payload", help="A payload to try: JSON, or @file.json.")
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """What an event would need now: each candidate transition and its guards. Changes nothing."""

    def run() -> int:
        from engine.runtime.types import Actor

        who = Actor(id=actor, roles=tuple(role or ())) if actor is not None else None
        body = read_json(payload, "--payload") if payload is not None else None
        with engine_on(db) as engine:
            explained = engine.explain(case_id, event, actor=who, payload=body)
        reason = explained.reason
        if as_json:
            emit_json(
                {
                    "case": explained.case,
                    "event": explained.event,
                    "state": explained.state,
                    "allowed": explained.allowed,
                    "reason": reason.record() if reason is not None else None,
                    "transitions": [
                        {
                            "index": t.index,
                            "target": t.target,
                            "label": t.label,
                            "ready": t.ready,
                            "guards": [dict(g) for g in t.guards],
                        }
                        for t in explained.transitions
                    ],
                }
            )
            return 0
        from rich.markup import escape

        from engine.cli.output import console

        out = console()
        verdict = (
            "[green]can fire now[/green]" if explained.allowed else "[red]cannot fire now[/red]"
        )
        out.print(
            f"{escape(event)} on case {escape(case_id)} in {escape(explained.state)}: {verdict}"
        )
        if reason is not None:
            out.print("  " + escape(f"[{reason.code}] {reason.message}"))
        for t in explained.transitions:
            mark = "✓" if t.ready else "✗"
            out.print(f"  {mark} → {escape(t.target)} {escape(t.label)}")
            for guard in t.guards:
                ok = "✓" if guard.get("result") else "✗"
                out.print(f"      {ok} {escape(str(guard.get('explanation', '')))}")
        return 0

    raise typer.Exit(guarded(run))
