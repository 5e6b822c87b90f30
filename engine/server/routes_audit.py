"""A case's audit: the JSONL log (streamed, byte for byte as hashed), verify, and replay.

Verify checks the chain of the lines the store holds *and* that it ends at the
head the case snapshot names, so records missing from the end are caught too.
Replay re-executes every record against the procedure version it names (found
in the store by sha256), as ``yishi replay`` does with files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from engine.audit.verify import verify_lines
from engine.runtime.replay import parse_as_of, replay_records
from engine.server.access import readable_case
from engine.server.deps import Caller, Deps
from engine.server.models import (
    CaseAtOut,
    Divergence,
    Head,
    ReplayOut,
    VerifyFailureOut,
    VerifyOut,
)
from engine.server.problems import ProblemError, documented
from engine.server.routes_cases import CaseId

router = APIRouter(tags=["audit"])

JSONL = "application/jsonl"
AS_OF = (
    r"^([0-9]{1,18}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2}))$"
)
_CHUNK = 256
"""Lines per chunk of a streamed audit log."""


def _chunks(lines: list[bytes]) -> Iterator[bytes]:
    for start in range(0, len(lines), _CHUNK):
        yield b"".join(lines[start : start + _CHUNK])


@router.get(
    "/cases/{case_id}/audit",
    response_class=StreamingResponse,
    responses={**documented(403, 404), 200: {"content": {JSONL: {"schema": {"type": "string"}}}}},
)
def audit(case_id: CaseId, request: Request, deps: Deps, caller: Caller) -> StreamingResponse:
    """The case's audit log as JSON Lines, each line exactly as hashed (``yishi verify`` reads it).

    Raises:
        UnknownCase: answered 404.
        ProblemError: 403 when the case is outside the token's units.
    """
    readable_case(deps, caller, request, case_id)
    view = deps.engine.case(case_id, history=False)
    lines = deps.engine.export_lines(case_id, upto=view.seq)
    return StreamingResponse(
        _chunks(lines),
        media_type=JSONL,
        headers={
            "ETag": f'"{view.seq}"',
            "Content-Disposition": f'attachment; filename="{case_id}.jsonl"',
        },
    )


@router.get("/cases/{case_id}/verify", response_model=VerifyOut, responses=documented(403, 404))
def verify(case_id: CaseId, request: Request, deps: Deps, caller: Caller) -> VerifyOut:
    """Check the case's hash chain and that it ends at the snapshot's head."""
    readable_case(deps, caller, request, case_id)
    view = deps.engine.case(case_id, history=False)
    lines = deps.engine.export_lines(case_id, upto=view.seq)
    report = verify_lines(lines)
    last = report.heads[-1] if report.heads else None
    head = Head(seq=last.seq, hash=last.hash) if last is not None else None
    expected = Head(seq=view.seq, hash=view.head)
    failure = report.failure
    ok = report.ok and head == expected
    message = report.message
    if report.ok and not ok:
        found = f"seq {head.seq}" if head is not None else "no record"
        message = f"the chain is intact but ends at {found}, not at the case's seq {view.seq}"
    return VerifyOut(
        ok=ok,
        records=report.records,
        head=head,
        expected_head=expected,
        failure=VerifyFailureOut(
            kind=failure.kind, line=failure.line, seq=failure.seq, message=failure.message
        )
        if failure is not None
        else None,
        message=message,
    )


@router.get("/cases/{case_id}/replay", response_model=ReplayOut, responses=documented(403, 404))
def replay(
    case_id: CaseId,
    request: Request,
    deps: Deps,
    caller: Caller,
    as_of: Annotated[
        str | None,
        Query(
            pattern=AS_OF,
            max_length=64,
            description="Stop at this seq or RFC 3339 time (with offset).",
        ),
    ] = None,
) -> ReplayOut:
    """Re-execute every record; report the first divergence, and the case at the end or as_of.

    Raises:
        ProblemError: 422 when ``as_of`` is neither a seq nor an RFC 3339 time.
    """
    readable_case(deps, caller, request, case_id)
    stop = None
    if as_of is not None:
        try:
            stop = parse_as_of(as_of)
        except (ValueError, OverflowError) as exc:
            raise ProblemError(422, "invalid-request", str(exc)) from exc
    view = deps.engine.case(case_id, history=False)
    records = deps.engine.records(case_id, upto=view.seq)
    report = replay_records(records, deps.engine.procedure, as_of=stop)
    divergence = report.divergence
    at = report.snapshots[0] if report.snapshots else None
    return ReplayOut(
        ok=report.ok,
        records=report.records,
        divergence=Divergence(
            seq=divergence.seq, fields=list(divergence.fields), diff=divergence.diff
        )
        if divergence is not None
        else None,
        case_at=CaseAtOut(seq=at.seq, at=at.at, state=at.state, data=dict(at.data))
        if at is not None
        else None,
    )
