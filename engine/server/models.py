"""The request and response bodies of the HTTP API, as pydantic models (they make the OpenAPI).

Requests forbid unknown members: a body that carries ``actor`` (or ``at``) is
refused with ``invalid-request``, never read: the actor is the one the bearer
token names, and the time is the server's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CASE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""Case ids over HTTP: ASCII letters, digits, ``.``, ``_``, ``-``; no ``/``, no leading dot."""
SHA256 = r"^[0-9a-f]{64}$"
EVENT_ID = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
IDEMPOTENCY_KEY = r"^[A-Za-z0-9._:-]{1,128}$"

Json = dict[str, Any]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Violation(BaseModel):
    """One thing wrong with a value, and where (a JSON path or a request location)."""

    path: str = Field(description="Where: a JSON path such as $.present, or body.data.")
    message: str


class LocatedProblem(BaseModel):
    """A problem in a procedure file: ``file:line:col: path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Literal["error", "warning"]
    code: str


class Problem(BaseModel):
    """An RFC 9457 problem; ``code`` tells the kind, further members carry the engine's reasons."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:yishi:problem:not-allowed"])
    title: str
    status: int
    detail: str
    code: str
    violations: list[Json] | None = Field(
        default=None, description="Payload/data violations (path, message) or located problems."
    )
    guards: list[Json] | None = Field(
        default=None, description="Each guard's inputs, result and explanation."
    )
    case: str | None = Field(default=None, description="For a refused attempt: the case.")
    seq: int | None = Field(default=None, description="For a refused attempt: its record's seq.")
    outcome: Json | None = Field(
        default=None,
        description="For a refused attempt: the whole outcome, in the same form as a 200 "
        "answer and `yishi case fire --json`.",
    )


class ProcedureRef(BaseModel):
    """A stored procedure version."""

    id: str
    version: str
    sha256: str = Field(description="sha256 of the exact source text (UTF-8): its address.")


class ProcedureVersion(ProcedureRef):
    """A stored procedure version in the listing, with how many cases pin it."""

    cases: int = Field(description="How many cases in the store pin this exact text.")
    registered_at: str | None = Field(
        description="When this text was first registered (RFC 3339); null when unknown "
        "(stored before yishi recorded it)."
    )
    registered_by: str | None = Field(
        description="Who first registered this text (an actor id); null when unknown."
    )


class ProcedureReport(BaseModel):
    """What registering (or checking) a procedure found."""

    id: str
    version: str
    title: str
    sha256: str
    registered: bool = Field(description="True when this call stored it (false: already there).")
    problems: list[LocatedProblem] = Field(description="Warnings (errors make a 422 problem).")


class ProcedureList(BaseModel):
    """Every stored procedure version."""

    procedures: list[ProcedureVersion]


class OpenCase(_Request):
    """Open a case of a registered procedure version."""

    id: str = Field(pattern=CASE_ID, examples=["2024-001"])
    procedure: str = Field(pattern=SHA256, description="The procedure version's sha256.")
    data: Json = Field(default_factory=dict, description="The case data (the procedure's schema).")
    unit: str | None = Field(
        default=None,
        max_length=200,
        description="The organisational unit the case belongs to, as a path (县/镇/村); "
        "defaults to the token's unit when it has exactly one.",
        examples=["柳河县/城关镇/柳树村"],
    )


class FireEvent(_Request):
    """Attempt an event on a case, as the token's actor."""

    event: str = Field(pattern=EVENT_ID, examples=["propose"])
    payload: Json = Field(default_factory=dict)


class ExplainEvent(_Request):
    """Ask what an event would need now (changes nothing)."""

    event: str = Field(pattern=EVENT_ID, examples=["propose"])
    payload: Json | None = Field(default=None, description="A payload to try, if any.")


class Reason(BaseModel):
    """Why an attempt was refused (engine reason codes)."""

    code: str
    message: str
    details: list[Any]


class OutcomeOut(BaseModel):
    """What became of an attempt (or of opening a case)."""

    model_config = ConfigDict(populate_by_name=True)

    case: str
    seq: int
    status: Literal["applied", "refused"]
    event: str | None
    from_state: str | None = Field(alias="from")
    to_state: str = Field(alias="to")
    reason: Reason | None
    guards: list[Json]
    replayed: bool = Field(description="True for an idempotent retry: the first outcome.")
    hash: str = Field(description="The audit record's hash.")


class Deadline(BaseModel):
    """When the state's timer fires, and which event."""

    at: str
    event: str


class CaseOut(BaseModel):
    """A case as it stands. The ``ETag`` header is its seq."""

    id: str
    procedure: ProcedureRef
    state: str
    final: bool
    seq: int
    head: str = Field(description="The hash of the case's last audit record.")
    deadline: Deadline | None
    data: Json
    unit: str = Field(default="", description="The case's organisational unit ('' for none).")


class CaseSummary(BaseModel):
    """A case in a listing."""

    id: str
    procedure: ProcedureRef
    state: str
    final: bool
    seq: int
    updated_at: str
    unit: str = Field(default="", description="The case's organisational unit ('' for none).")


class CasePage(BaseModel):
    """One page of cases, most recently updated first; pass ``next`` as ``after``."""

    cases: list[CaseSummary]
    next: str | None


class TransitionOut(BaseModel):
    """A candidate transition and what its guards say now."""

    index: int
    target: str
    label: str
    ready: bool
    guards: list[Json]


class ExplanationOut(BaseModel):
    """Whether an event could fire now, and what each candidate transition lacks."""

    case: str
    event: str
    state: str
    allowed: bool
    reason: Reason | None
    transitions: list[TransitionOut]


class Head(BaseModel):
    """The last record of a chain."""

    seq: int
    hash: str


class VerifyFailureOut(BaseModel):
    """The first thing wrong in a chain."""

    kind: str
    line: int
    seq: int | None
    message: str


class VerifyOut(BaseModel):
    """A case's chain checked, and its head compared with the store's snapshot."""

    ok: bool = Field(description="Chain intact and ending at the snapshot's head.")
    records: int
    head: Head | None = Field(description="The last record verified.")
    expected_head: Head = Field(description="The head the case snapshot names.")
    failure: VerifyFailureOut | None
    message: str


class Divergence(BaseModel):
    """The first record that replay could not reproduce."""

    seq: int
    fields: list[str]
    diff: str


class CaseAtOut(BaseModel):
    """The case as replay rebuilt it."""

    seq: int
    at: str
    state: str
    data: Json


class ReplayOut(BaseModel):
    """Every record re-executed against the procedure version it names."""

    ok: bool
    records: int
    divergence: Divergence | None
    case_at: CaseAtOut | None = Field(description="The case at the end (or at as_of).")


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok"]
