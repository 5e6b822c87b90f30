"""The exceptions yishi raises, and the located problems it reports.

Every error a caller can meet derives from one root, so an embedding system
can catch ``EngineError`` and know it caught ours. Where a caller already
catches a builtin (``ValueError`` for bad values, ``OSError`` for files, ``KeyError``
for a missing key), the error subclasses that builtin too::

    EngineError                     500 internal-error unless a subclass says otherwise
    ├── ProcedureError              a procedure file cannot be used
    │   ├── SourceUnreadable        ... because it cannot be read as UTF-8 text
    │   ├── ProcedureInvalid        ... and here is every problem, located (422)
    │   │   └── ScenarioInvalid     ... or in a scenario file
    │   └── VersionTaken            ... another text is registered under its id and version (409)
    ├── YamlProblems                a YAML text breaks the strict reader's rules (every problem)
    ├── RuleError                   a counting rule cannot be applied (also ValueError)
    ├── FractionSyntaxError         a fraction is not written ``p/q`` (also ValueError)
    ├── CelCheckError               an expression cannot be used (also ValueError)
    ├── CostProblem                 an expression's cost has no bound, or too high a one
    ├── CelRuntimeError             a compiled expression failed on its values
    ├── GovernanceError             a governance rule refuses its inputs (also ValueError)
    ├── ActionFailed                an action could not run on its values
    ├── CalendarUnavailable         the working-day calendar does not cover a date
    ├── DeadlineOutOfRange          a deadline would fall after year 9999 (422)
    ├── CaseError                   something about a case
    │   ├── UnknownCase             (404; also KeyError)
    │   ├── CaseExists              (409)
    │   ├── Conflict                another writer moved the case first (409)
    │   ├── Forbidden               the actor may not act on this case at all (403)
    │   ├── InvalidData             the case data does not match its schema (422)
    │   ├── InvalidUnit             a unit path cannot be a unit (422; also ValueError)
    │   ├── IdempotencyMismatch     a key reused for a different request (422)
    │   ├── TimeWentBackwards       an event before the case's last record (422)
    │   ├── TimeOutOfRange          a time the procedure's wall clock cannot show (422)
    │   └── MigrationRefused        a case cannot be migrated as asked
    ├── ProcedureMissing            replay was not given a procedure a case names
    ├── AuditError                  an audit trail is broken or unreadable
    │   ├── NotCanonicalizable      a value has no RFC 8785 form we accept (also ValueError)
    │   ├── RecordInvalid           a record lacks a field or has a wrong type (also ValueError)
    │   ├── ChainError              a record does not continue its chain
    │   ├── LineError               a line of a JSONL audit file is not a record
    │   ├── LogUnreadable           the audit file cannot be opened or read at all
    │   ├── KeyFileError            a key file is not the Ed25519 key expected
    │   └── CheckpointInvalid       a heads or checkpoint file cannot be used
    ├── DocumentError               a document cannot be produced
    ├── TemplateRefused             a template uses a construct the sandbox refuses
    ├── RenderStopped               a render broke a sandbox limit
    ├── NotRegularFile              a FIFO, socket or device where a file was named (also OSError)
    ├── StoreError                  the store cannot be opened or written (503)
    ├── InvalidCursor               a page cursor no earlier page gave (422)
    ├── TokenFileError              the server's token file cannot be used
    └── LocalModeRefused            ``yishi serve`` without tokens away from loopback

Each class carries the HTTP status and the problem ``code`` the API answers it
with (``http_status``, ``problem_code``); the server reads them there rather than
keeping a table of its own, so a new error is answered the way it declares. The
CLI's exit codes do not depend on them.

Problems in files carry a ``SourceLocation`` and print as
``file:line:col: path: message`` so that editors turn them into links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

Severity = Literal["error", "warning"]

LineProblem = Literal["invalid-utf8", "invalid-json", "truncated-line", "not-an-object"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLocation:
    """Where in a file something is: 1-based line and column, and the key path."""

    file: str
    line: int
    column: int
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}" if self.path else where


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong (or doubtful) in a file, with where it is and how to fix it."""

    location: SourceLocation
    message: str
    severity: Severity = "error"
    code: str = ""

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.location}: {prefix}{self.message}"

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, loc.path, self.message)


class EngineError(Exception):
    """Root of every error yishi raises.

    Attributes:
        http_status: the status the HTTP API answers this error with.
        problem_code: the problem's ``code`` (``urn:yishi:problem:<code>``).
    """

    http_status: ClassVar[int] = 500
    problem_code: ClassVar[str] = "internal-error"


# --- procedures and the texts they are written in ------------------------------------


class ProcedureError(EngineError):
    """A procedure file cannot be read or used."""


class SourceUnreadable(ProcedureError):
    """A file cannot be read as UTF-8 text; ``location`` says which file, ``reason`` why."""

    def __init__(self, path: str, reason: str, *, line: int = 1, column: int = 1) -> None:
        self.location = SourceLocation(file=path, line=line, column=column)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class VersionTaken(ProcedureError):
    """Another text is already registered under this procedure id and version.

    A version names one text: a case pins the sha256, and an auditor reading "id
    version" must find the rules that case ran under, not a laxer text that later
    took the same name. A changed text needs a new version.
    """

    http_status = 409
    problem_code = "procedure-version-taken"

    def __init__(self, *, id: str, version: str, stored: str, offered: str) -> None:
        self.id, self.version, self.stored, self.offered = id, version, stored, offered
        super().__init__(
            f"procedure {id} version {version} is already registered with sha256 {stored}; "
            f"this text has sha256 {offered}: give the changed text a new version"
        )


class ProcedureInvalid(ProcedureError):
    """A procedure has problems; ``problems`` lists all of them, sorted by position."""

    http_status = 422
    problem_code = "procedure-invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.sort_key)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(errors)} error(s):\n{lines}")


class ScenarioInvalid(ProcedureInvalid):
    """A scenario file has problems (located like a procedure's)."""


class YamlProblems(EngineError):
    """Raised by ``parse_yaml`` with every problem found in the text."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class RuleError(EngineError, ValueError):
    """A counting rule that cannot be applied; ``path`` names the key inside the rule."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# --- guards: fractions and expressions ----------------------------------------------


class FractionSyntaxError(EngineError, ValueError):
    """A fraction written in a procedure is not of the form ``p/q``."""


class CelCheckError(EngineError, ValueError):
    """An expression cannot be used; ``line``/``column`` are 1-based inside the expression."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class CostProblem(EngineError, ValueError):
    """An expression's cost cannot be bounded, or its bound is too high."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class CelRuntimeError(EngineError):
    """A compiled expression failed on the values it was given."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(f"{message} (in {source!r})")
        self.message = message
        self.source = source


# --- governance, actions and time ---------------------------------------------------


class GovernanceError(EngineError, ValueError):
    """Inputs that a governance rule refuses; the message names the rule and the fix.

    Also a ``ValueError`` (what a caller passing bad numbers already catches); the
    runtime turns it into a refused attempt with the reason.
    """


class ActionFailed(EngineError):
    """An action could not run on the values it was given (the attempt is refused)."""


class CalendarUnavailable(EngineError):
    """The official working-day calendar does not cover a date yet."""


class DeadlineOutOfRange(EngineError):
    """A deadline falls after the years a record can hold (9999 UTC); nothing is recorded."""

    http_status = 422
    problem_code = "deadline-out-of-range"


# --- cases --------------------------------------------------------------------------


class CaseError(EngineError):
    """Something about a case prevents the request."""


class UnknownCase(CaseError, KeyError):
    """No case has this id."""

    http_status = 404
    problem_code = "unknown-case"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown case"


class CaseExists(CaseError):
    """A case with this id is already open."""

    http_status = 409
    problem_code = "case-exists"


class Conflict(CaseError):
    """The case moved on since the caller read it (expected seq did not match)."""

    http_status = 409
    problem_code = "conflict"


class Forbidden(CaseError):
    """The actor holds no role that lets them open this procedure's cases or act on the case.

    Raised at the door, before anything is evaluated or recorded: such an attempt
    leaves no trace in any chain (the HTTP server answers it 403 and logs it).
    """

    http_status = 403
    problem_code = "forbidden"


class InvalidData(CaseError):
    """A case's initial data does not match the procedure's data schema."""

    http_status = 422
    problem_code = "invalid-data"

    def __init__(self, violations: list[dict[str, str]]) -> None:
        self.violations = violations
        lines = "; ".join(f"{v['path']}: {v['message']}" for v in violations)
        super().__init__(f"the case data does not match the procedure's data schema: {lines}")


class InvalidUnit(CaseError, ValueError):
    """A unit path is empty in a part, too long, or holds characters a unit cannot."""

    http_status = 422
    problem_code = "invalid-unit"


class IdempotencyMismatch(CaseError):
    """An idempotency key was reused for a different request."""

    http_status = 422
    problem_code = "idempotency-key-reused"


class TimeWentBackwards(CaseError):
    """An event's ``at`` is before the case's last record: time never runs backwards in a case."""

    http_status = 422
    problem_code = "time-backwards"


class TimeOutOfRange(CaseError, ValueError):
    """An event's ``at`` is past 9999-12-31 (or before year 1) on the procedure's wall
    clock: an instant in the last hours of year 9999 UTC east of Greenwich, or the first
    of year 1 west of it. No one could read its local time, so nothing is recorded."""

    http_status = 422
    problem_code = "time-out-of-range"


class MigrationRefused(CaseError):
    """A case cannot be migrated as asked; ``problems`` says every reason."""

    def __init__(self, case: str, problems: list[str]) -> None:
        self.case = case
        self.problems = problems
        super().__init__(f"case {case} cannot be migrated: " + "; ".join(problems))


class ProcedureMissing(EngineError):
    """A case names a procedure version that replay was not given."""


# --- the audit trail ----------------------------------------------------------------


class AuditError(EngineError):
    """An audit trail is broken, forged, truncated or unreadable."""


class NotCanonicalizable(AuditError, ValueError):
    """A value cannot be put in canonical form; ``path`` says where (``$.payload.x``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class RecordInvalid(AuditError, ValueError):
    """A record is malformed; ``kind`` is the verify failure kind (``missing-field``, …)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class ChainError(AuditError):
    """A record does not follow the chain head it is sealed onto (case or seq)."""


class LineError(AuditError):
    """A line of an audit file is not a record; ``line`` is 1-based, ``kind`` says why."""

    def __init__(self, *, line: int, kind: LineProblem, message: str) -> None:
        self.line = line
        self.kind: LineProblem = kind
        self.message = message
        super().__init__(f"line {line}: {message}")


class LogUnreadable(AuditError):
    """The audit file cannot be opened or read (missing, a directory, no permission)."""


class KeyFileError(AuditError):
    """A key file cannot be read or is not an Ed25519 key of the kind expected."""


class CheckpointInvalid(AuditError):
    """A heads or checkpoint file cannot be used: unreadable, malformed, or its digest
    or signature does not hold."""


# --- documents ----------------------------------------------------------------------


class DocumentError(EngineError):
    """A document cannot be produced: unknown name, not yet available, or a bad template.

    Attributes:
        reason: ``unknown`` (no such document), ``not-ready`` (the case has not reached
            it), ``template`` (unreadable, refused or stopped), ``procedure-file`` (not
            found in the procedure folders) or ``pdf-unavailable`` (WeasyPrint cannot load).
    """

    def __init__(self, message: str, reason: str = "template") -> None:
        super().__init__(message)
        self.reason = reason


class TemplateRefused(EngineError):
    """A template uses a construct the sandbox does not allow, or cannot be parsed.

    Attributes:
        line: the template line (1-based).
        message: what is wrong and what to do instead.
    """

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class RenderStopped(EngineError):
    """A render broke a sandbox limit or read a field that is not there.

    Attributes:
        line: the template line when known, else 0.
        message: which limit, or which field.
    """

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


# --- files, the store and the server's settings -------------------------------------


class NotRegularFile(EngineError, OSError):
    """The path names something other than a regular file (a FIFO, socket or device).

    An ``OSError`` first of all: every reader already turns ``OSError`` into one
    located line, and this one's ``strerror`` says what the path names instead.
    """


class StoreError(EngineError):
    """The store cannot be opened, read or written."""

    http_status = 503
    problem_code = "store-unavailable"


class TokenFileError(EngineError):
    """The token file cannot be read or has a mistake (which entry, and what)."""


class LocalModeRefused(EngineError):
    """``yishi serve`` without ``--tokens`` on an address other than loopback."""


class InvalidCursor(EngineError, ValueError):
    """A page cursor that no earlier page gave (the caller's mistake, not the store's)."""

    http_status = 422
    problem_code = "invalid-request"
