"""``yishi case migrate``: move open cases to another procedure version, or check a move.

A command of its own module because it is an administrative act with its own
report (one line per case: states, deadline, data mapped, applied or why not);
``case_cmd`` only registers it. Only typer is imported at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.case_support import UsageProblem, engine_on, guarded, parse_at

if TYPE_CHECKING:
    from engine.runtime.migration import Migrated


def parse_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """``OLD=NEW`` (or ``PATH=EXPR``) options as a dict, in the order given.

    Raises:
        UsageProblem: when one has no ``=`` or an empty side, or a key repeats.
    """
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, target = value.partition("=")
        if not sep or not key.strip() or not target.strip():
            raise UsageProblem(f"{option} {value!r}: write it as {option} LEFT=RIGHT")
        if key.strip() in pairs:
            raise UsageProblem(f"{option}: {key.strip()!r} is given twice")
        pairs[key.strip()] = target.strip()
    return pairs


def _deadline(value: Any) -> str:
    return f"{value['event']} at {value['at']}" if value else "none"


def render_migrations(results: list[Migrated], *, dry_run: bool) -> None:
    """One block per case: what the migration does (or did), or every reason it cannot."""
    for result in results:
        check = result.check
        target = check.to_state or "?"
        print(f"case {check.case}: {check.from_state} ({check.from_procedure['version']}) → "
              f"{target} ({check.to_procedure['version']})")  # fmt: skip
        print(f"  deadline: {_deadline(check.deadline_before)} → {_deadline(check.deadline_after)}")
        for change in check.data_changes:
            print(f"  data: {change['path']} = {change['value']!r}")
        for problem in check.problems:
            print(f"  refused: {problem}")
        if result.error is not None:
            print(f"  not applied: {result.error}")
        elif result.seq is not None:
            print(f"  migrated: recorded as seq {result.seq} (case.migrated)")
        elif dry_run and check.ok:
            print("  dry run: would migrate")
    done = sum(r.seq is not None for r in results)
    refused = sum(not r.check.ok or r.error is not None for r in results)
    verb = "would migrate" if dry_run else "migrated"
    print(f"{verb} {len(results) - refused if dry_run else done} of {len(results)} case(s); "
          f"{refused} refused")  # fmt: skip


def migrate_command(
    cases: Annotated[list[str], typer.Argument(help="The case ids.", show_default=False)],
    *,
    to: Annotated[Path, typer.Option("--to", help="The procedure version to move to (YAML).")],
    state_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="OLD=NEW: a state of the old version and its new name."),
    ] = None,
    data_map: Annotated[
        list[str] | None,
        typer.Option("--data-map", help="data.PATH=CEL: set a data field (reads the old data)."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the record).")],
    actor: Annotated[str, typer.Option("--actor", help="Who migrates (an id).")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role the actor holds (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report every case; change nothing.")
    ] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="When (RFC 3339 with offset; default: now).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: $YISHI_DB, else sqlite:///yishi.db)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Move open cases to another procedure version, each recorded as case.migrated.

    Every case is checked first (its state maps to a state of the new version, its
    data is valid under the new data schema after --data-map); each case that passes
    is migrated on its own, and each is reported. Exit 0 when every case passed (or
    would), 1 otherwise.
    """

    def run() -> int:
        import json

        from engine.cli.loading import load_or_report
        from engine.runtime.migration import migrate_cases
        from engine.runtime.types import Actor

        states = parse_pairs(state_map, "--map")
        mapping = parse_pairs(data_map, "--data-map")
        if not reason.strip():
            raise UsageProblem("--reason must say why the cases are migrated")
        compiled = load_or_report(to)
        if compiled is None:
            return 1
        when = parse_at(at)
        with engine_on(db) as engine:
            results = migrate_cases(
                engine, list(dict.fromkeys(cases)), compiled, state_map=states,
                data_map=mapping, reason=reason, actor=Actor(id=actor, roles=tuple(role or ())),
                at=when or engine.clock.now(), dry_run=dry_run,
            )  # fmt: skip
        if as_json:
            body = {"dry_run": dry_run, "cases": [r.as_json() for r in results]}
            print(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            render_migrations(results, dry_run=dry_run)
        return 0 if all(r.check.ok and r.error is None for r in results) else 1

    raise typer.Exit(guarded(run))
