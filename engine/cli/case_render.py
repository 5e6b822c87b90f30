"""How the ``yishi case …`` commands print what they got: JSON for machines, tables for people.

Each ``render_…`` function prints one command's result, as JSON with ``--json``
(UTF-8, non-ASCII kept) or else as a rich table or lines in words with every
guard's explanation. Keeping the output apart from the commands keeps each command
to what it asks the engine, and the JSON shapes (which scripts depend on) in one place.

rich is imported inside the functions, when a table is printed: ``yishi --help``
must stay fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.runtime.queries import CasePage
    from engine.runtime.transfer import Imported
    from engine.runtime.types import CaseView, Explanation, Outcome


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON (UTF-8, non-ASCII kept)."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The machine form of an outcome: ``Outcome.to_json()``, as the HTTP API answers it."""
    return outcome.to_json()


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


def render_outcome(outcome: Outcome, *, as_json: bool) -> None:
    """``case open`` and ``case fire``: the outcome, as JSON or in words."""
    if as_json:
        emit_json(outcome_json(outcome))
    else:
        show_outcome(outcome)


def deadline_text(deadline: Mapping[str, str] | None) -> str:
    """A case's pending deadline as ``event at time``, or ``—`` when there is none."""
    return f"{deadline['event']} at {deadline['at']}" if deadline else "—"


def render_case(view: CaseView, *, as_json: bool) -> None:
    """``case show``: procedure, state, seq, head, deadline and data."""
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
                "unit": view.unit,
            }
        )
        return
    from rich.markup import escape
    from rich.table import Table

    from engine.cli.output import console

    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    procedure = view.procedure
    rows = [
        ("case", view.id),
        ("procedure", f"{procedure['id']} {procedure['version']} ({procedure['sha256'][:12]}…)"),
        ("state", view.state + (" (final)" if view.final else "")),
        ("seq", str(view.seq)),
        ("head", view.head),
        ("deadline", deadline_text(view.deadline)),
        ("unit", view.unit or "—"),
        ("data", json.dumps(dict(view.data), ensure_ascii=False, indent=2)),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    console().print(table)


def render_page(page: CasePage, *, as_json: bool) -> None:
    """``case list``: one page of cases, and the cursor of the next page if there is one."""
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
        return
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


def render_history(records: Sequence[Mapping[str, Any]], *, as_json: bool) -> None:
    """``case history``: the audit records, as stored (JSON) or one table row each."""
    if as_json:
        emit_json(records)
        return
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


def render_imported(done: Sequence[Imported], *, as_json: bool) -> None:
    """``case import``: each stored case with its record count and state."""
    if as_json:
        emit_json([{"case": d.case, "seq": d.seq, "state": d.state} for d in done])
    else:
        for d in done:
            print(f"imported case {d.case}: {d.seq} record(s), state {d.state}")


def render_explanation(explained: Explanation, case_id: str, event: str, *, as_json: bool) -> None:
    """``case explain``: whether the event can fire, and each candidate with its guards."""
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
        return
    from rich.markup import escape

    from engine.cli.output import console

    out = console()
    verdict = "[green]can fire now[/green]" if explained.allowed else "[red]cannot fire now[/red]"
    out.print(f"{escape(event)} on case {escape(case_id)} in {escape(explained.state)}: {verdict}")
    if reason is not None:
        out.print("  " + escape(f"[{reason.code}] {reason.message}"))
    for t in explained.transitions:
        mark = "✓" if t.ready else "✗"
        out.print(f"  {mark} → {escape(t.target)} {escape(t.label)}")
        for guard in t.guards:
            ok = "✓" if guard.get("result") else "✗"
            out.print(f"      {ok} {escape(str(guard.get('explanation', '')))}")


__all__ = [
    "deadline_text",
    "emit_json",
    "outcome_json",
    "render_case",
    "render_explanation",
    "render_history",
    "render_imported",
    "render_outcome",
    "render_page",
    "show_outcome",
]
