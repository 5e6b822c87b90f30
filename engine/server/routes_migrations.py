"""``POST /migrations``: move open cases to another registered procedure version (admin only).

The HTTP face of ``engine.runtime.migration``: the same checks, the same per-case
report, the same ``case.migrated`` record, with the token's actor as who and the
server's clock as when. A dry run changes nothing and needs admin too: it reads
every named case. Every case must lie within the token's units.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from engine.errors import UnknownCase
from engine.runtime.migration import migrate_cases
from engine.runtime.types import Actor
from engine.server.deps import Caller, Deps
from engine.server.models import CASE_ID, SHA256, _Request
from engine.server.problems import ProblemError, documented

router = APIRouter(tags=["migrations"])

MAX_CASES = 1000
"""Cases one request may migrate (a bulk migration beyond it is sent in several requests)."""


class MigrateCases(_Request):
    """Move cases to another procedure version, or check the move (dry_run)."""

    cases: list[Annotated[str, Field(pattern=CASE_ID)]] = Field(
        min_length=1, max_length=MAX_CASES, description="The case ids (each case on its own)."
    )
    to: str = Field(pattern=SHA256, description="The registered version's sha256.")
    state_map: dict[str, str] = Field(
        default_factory=dict, max_length=1000, description="Old state id → new state id."
    )
    data_map: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description="data.PATH → CEL expression over the old data: fields to set.",
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept in the record).")
    dry_run: bool = Field(default=False, description="Check and report; change nothing.")


class MigrationReport(BaseModel):
    """Each case's check and, when applied, the seq of its case.migrated record."""

    dry_run: bool
    cases: list[dict[str, Any]]


@router.post(
    "/migrations",
    response_model=MigrationReport,
    responses=documented(403, 404),
    summary="Migrate open cases to another procedure version (admin)",
)
def migrate(body: MigrateCases, deps: Deps, caller: Caller) -> MigrationReport:
    """Check every case, then migrate each that passes (unless dry_run); 200 with a report
    per case (``ok``, ``problems``, ``applied_seq``) even when some were refused.

    Raises:
        ProblemError: 403 unless the token is admin (not an auditor) and covers every case's
            unit (nothing changes); 404 for an unknown procedure version.
        UnknownCase: 404 when a case id names no case (nothing changes).
    """
    if not caller.admin or caller.auditor:
        raise ProblemError(403, "forbidden", f"{caller.actor} may not migrate cases (not admin)")
    if not body.reason.strip():
        raise ProblemError(422, "invalid-request", "reason must say why the cases are migrated")
    compiled = deps.engine.procedure(body.to)
    if compiled is None:
        raise ProblemError(404, "unknown-procedure", f"no procedure version {body.to}")
    for case_id in body.cases:
        try:
            snapshot = deps.engine.snapshot(case_id)
        except UnknownCase:
            continue  # migrate_cases answers it (404) before anything changes
        if not caller.covers(snapshot.unit):
            raise ProblemError(
                403, "forbidden", f"case {case_id} is outside {caller.actor}'s units"
            )
    results = migrate_cases(
        deps.engine, list(dict.fromkeys(body.cases)), compiled, state_map=body.state_map,
        data_map=body.data_map, reason=body.reason,
        actor=Actor(id=caller.actor, roles=tuple(caller.roles)),
        at=deps.engine.clock.now(), dry_run=body.dry_run,
    )  # fmt: skip
    return MigrationReport(dry_run=body.dry_run, cases=[r.as_json() for r in results])
