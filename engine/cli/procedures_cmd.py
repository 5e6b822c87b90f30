"""``yishi procedures list|show``: the procedure versions a store keeps, and what pins them.

Each version shows when and by whom it was first registered ("unknown" for a
version stored before yishi recorded that; ``null`` in ``--json``).

A version is one exact text, addressed by its sha256; a store refuses a second
text under an id and version it already holds. An auditor asks which texts a
store holds and how many cases each governs: ``list`` answers for all, ``show``
for one id (every version) or one sha256 (a unique prefix will do).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from engine.cli.case_cmd import AsJson, Db  # the same --db and --json as yishi case
from engine.cli.case_support import UsageProblem, engine_on, guarded

procedures_app = typer.Typer(
    name="procedures",
    help=(
        "The procedure versions a store keeps: id, version, sha256, cases pinning each, "
        "when and by whom each was registered."
    ),
    no_args_is_help=True,
)


def _rows(db: str | None, wanted: str | None) -> list[dict[str, object]]:
    with engine_on(db) as engine:
        refs = engine.procedures()
        counts = engine.cases_per_procedure()
    rows: list[dict[str, object]] = [
        {
            "id": r.id,
            "version": r.version,
            "sha256": r.sha256,
            "registered_at": r.registered_at,
            "registered_by": r.registered_by,
            "cases": counts.get(r.sha256, 0),
        }
        for r in refs
    ]
    if wanted is None:
        return rows
    chosen = [r for r in rows if r["id"] == wanted or str(r["sha256"]).startswith(wanted)]
    if not chosen:
        raise UsageProblem(f"no procedure id or sha256 {wanted!r} in the store")
    return chosen


def _print(rows: list[dict[str, object]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print("no procedure versions in the store")
        return
    for row in rows:
        # None is a version stored before yishi recorded registrations: said, not hidden.
        at = row["registered_at"] or "unknown time"
        by = row["registered_by"] or "unknown"
        print(
            f"{row['id']}  {row['version']}  sha256 {row['sha256']}  cases {row['cases']}  "
            f"registered {at} by {by}"
        )


@procedures_app.command("list")
def list_command(db: Db = None, as_json: AsJson = False) -> None:
    """Every stored version: id, version, sha256 and how many cases pin it."""

    def run() -> int:
        _print(_rows(db, None), as_json)
        return 0

    raise typer.Exit(guarded(run))


@procedures_app.command("show")
def show_command(
    which: Annotated[str, typer.Argument(help="A procedure id, or a sha256 (or its prefix).")],
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """The versions of one procedure id, or the one version a sha256 names."""

    def run() -> int:
        _print(_rows(db, which), as_json)
        return 0

    raise typer.Exit(guarded(run))
