"""``yishi case …``: open, fire, show, list, history, export, import and explain stored cases.

Every command takes ``--db URL`` (default ``$YISHI_DB``, else ``sqlite:///yishi.db``),
prints a readable table, or JSON with ``--json``. An error (unknown case, conflict,
corrupt or newer database, wrong URL, unreachable server) is one line on stderr
and exit status 1, never a traceback. ``case fire`` exits 0 when the event was
applied and 2 when it was refused (the refusal is recorded all the same).

The commands say what they ask the engine; ``engine.cli.case_support`` holds the
plumbing they share with ``yishi worker`` (one-line failures, the store, ``--data``
and ``--at``) and ``engine.cli.case_render`` how each prints its result.

Only typer is imported at module level: ``yishi --help`` must stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.case_render import (
    emit_json,
    outcome_json,
    render_case,
    render_explanation,
    render_history,
    render_imported,
    render_outcome,
    render_page,
    show_outcome,
)
from engine.cli.case_support import (
    UsageProblem,
    check_actor,
    check_key,
    engine_on,
    fail,
    guarded,
    parse_at,
    read_json,
)

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
SigningKey = Annotated[
    Path | None,
    typer.Option("--signing-key", help="Sign the record with this Ed25519 key (yishi keygen)."),
]


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
    unit: Annotated[
        str,
        typer.Option("--unit", help="The case's organisational unit, a path: 县/镇/村."),
    ] = "",
    at: At = None,
    db: Db = None,
    as_json: AsJson = False,
    signing_key: SigningKey = None,
) -> None:
    """Open a case in the procedure's initial state (the actor needs an opening role)."""

    def run() -> int:
        from engine.cli.loading import load_or_report
        from engine.runtime.types import Actor

        check_actor(actor, role)
        initial = read_json(data, "--data")
        when = parse_at(at)
        compiled = load_or_report(procedure)
        if compiled is None:
            return 1
        with engine_on(db, signing_key) as engine:
            who = Actor(id=actor, roles=tuple(role or ()))
            outcome = engine.open_case(compiled, case_id, initial, actor=who, at=when, unit=unit)
        render_outcome(outcome, as_json=as_json)
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
    signing_key: SigningKey = None,
) -> None:
    """Attempt an event; exit 0 when applied, 2 when refused (recorded with its reason)."""

    def run() -> int:
        from engine.runtime.types import Actor

        check_actor(actor, role)
        check_key(key)
        body = read_json(payload, "--payload")
        when = parse_at(at)
        with engine_on(db, signing_key) as engine:
            outcome = engine.fire(
                case_id,
                event,
                actor=Actor(id=actor, roles=tuple(role or ())),
                payload=body,
                at=when,
                idempotency_key=key,
                expected_seq=expected_seq,
            )
        render_outcome(outcome, as_json=as_json)
        return 0 if outcome.applied else 2

    raise typer.Exit(guarded(run))


@case_app.command("show")
def show_command(case_id: CaseId, db: Db = None, as_json: AsJson = False) -> None:
    """Show a case: procedure, state, seq, head, deadline and data."""

    def run() -> int:
        with engine_on(db) as engine:
            view = engine.case(case_id, history=False)
        render_case(view, as_json=as_json)
        return 0

    raise typer.Exit(guarded(run))


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
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Page size.")] = 50,
    after: Annotated[
        str | None, typer.Option("--after", help="The cursor printed after the previous page.")
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """List cases, most recently updated first, a page at a time."""

    def run() -> int:
        from engine.runtime.queries import CaseFilter

        where = CaseFilter(
            procedure=procedure,
            state=state,
            updated_since=parse_at(since),
            updated_before=parse_at(before),
        )
        with engine_on(db) as engine:
            page = engine.list_cases(where, after=after, limit=limit)
        render_page(page, as_json=as_json)
        return 0

    raise typer.Exit(guarded(run))


@case_app.command("history")
def history_command(case_id: CaseId, db: Db = None, as_json: AsJson = False) -> None:
    """Show a case's audit records: who did what, when, and what became of it."""

    def run() -> int:
        with engine_on(db) as engine:
            records = engine.records(case_id)
        render_history(records, as_json=as_json)
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
    """Write ``path`` whole or not at all, leaving no temporary file behind either way.

    Raises:
        UsageProblem: when ``path`` is a directory or its directory does not exist.
        OSError: when the file cannot be written.
    """
    import os
    import tempfile

    if path.is_dir():
        raise UsageProblem(f"-o {path}: is a directory; name a file, e.g. {path / 'cases.jsonl'}")
    if not path.parent.is_dir():
        raise UsageProblem(f"-o {path}: the directory {path.parent} does not exist")
    descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@case_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="An audit log (JSONL).", show_default=False)],
    *,
    procedure: Annotated[
        list[Path] | None,
        typer.Option("--procedure", "-p", help="Procedure files the cases ran under."),
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Require every case signed by this key (PEM)."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            help=(
                "Who imports the log (an id), recorded as having registered each procedure "
                "version the store lacked; by default the case's opener in the log."
            ),
        ),
    ] = None,
) -> None:
    """Verify and replay an audit log, then store its cases (a broken chain stores nothing)."""

    def run() -> int:
        from engine.audit.signing import load_verifier
        from engine.errors import AuditError
        from engine.regular_file import read_regular
        from engine.runtime.transfer import import_log

        check_actor(actor, None)
        verifier = load_verifier(public_key) if public_key is not None else None
        lookup = _procedure_lookup(procedure or [])
        try:
            data = read_regular(path)
        except OSError as exc:
            raise UsageProblem(f"{path}: cannot read: {exc.strerror or exc}") from exc
        lines = data.splitlines(keepends=True)
        if not lines:
            raise UsageProblem(f"{path}:1: the log is empty: there is no case to import")
        with engine_on(db) as engine:
            try:
                done = import_log(engine, lines, lookup, verifier=verifier, by=actor)
            except AuditError as exc:
                raise AuditError(f"{path}: {exc}") from exc
        render_imported(done, as_json=as_json)
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

        check_actor(actor, role)
        who = Actor(id=actor, roles=tuple(role or ())) if actor is not None else None
        body = read_json(payload, "--payload") if payload is not None else None
        with engine_on(db) as engine:
            explained = engine.explain(case_id, event, actor=who, payload=body)
        render_explanation(explained, case_id, event, as_json=as_json)
        return 0

    raise typer.Exit(guarded(run))


# The helpers that lived here before case_support and case_render split off stay
# importable from this module, so code that imported them from here keeps working.
__all__ = [
    "UsageProblem",
    "case_app",
    "emit_json",
    "engine_on",
    "fail",
    "guarded",
    "outcome_json",
    "parse_at",
    "read_json",
    "show_outcome",
]


def _add_migrate() -> None:
    from engine.cli.migrate_cmd import migrate_command

    case_app.command("migrate")(migrate_command)


_add_migrate()
