"""The exceptions yishi raises, and the located problems it reports.

Every error a caller can meet derives from one root, so an embedding system
can catch ``EngineError`` and know it caught ours::

    EngineError
    ├── ProcedureError          a procedure file cannot be used
    │   ├── SourceUnreadable    ... because it cannot be read as UTF-8 text
    │   ├── ProcedureInvalid    ... and here is every problem, located
    │   └── VersionTaken        ... another text is registered under its id and version
    ├── CaseError               something about a case
    │   ├── UnknownCase
    │   ├── CaseExists
    │   ├── Conflict            another writer moved the case first
    │   └── Forbidden           the actor may not act on this case at all (nothing recorded)
    ├── AuditError              an audit trail is broken or unreadable
    ├── StoreError              the store cannot be opened or written
    └── InvalidCursor           a page cursor no earlier page gave

Problems in files carry a ``SourceLocation`` and print as
``file:line:col: path: message`` so that editors turn them into links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


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
    """Root of every error yishi raises."""


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

    def __init__(self, *, id: str, version: str, stored: str, offered: str) -> None:
        self.id, self.version, self.stored, self.offered = id, version, stored, offered
        super().__init__(
            f"procedure {id} version {version} is already registered with sha256 {stored}; "
            f"this text has sha256 {offered}: give the changed text a new version"
        )


class ProcedureInvalid(ProcedureError):
    """A procedure has problems; ``problems`` lists all of them, sorted by position."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.sort_key)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(errors)} error(s):\n{lines}")


class CaseError(EngineError):
    """Something about a case prevents the request."""


class UnknownCase(CaseError, KeyError):
    """No case has this id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown case"


class CaseExists(CaseError):
    """A case with this id is already open."""


class Conflict(CaseError):
    """The case moved on since the caller read it (expected seq did not match)."""


class Forbidden(CaseError):
    """The actor holds no role that lets them open this procedure's cases or act on the case.

    Raised at the door, before anything is evaluated or recorded: such an attempt
    leaves no trace in any chain (the HTTP server answers it 403 and logs it).
    """


class AuditError(EngineError):
    """An audit trail is broken, forged, truncated or unreadable."""


class StoreError(EngineError):
    """The store cannot be opened, read or written."""


class InvalidCursor(EngineError, ValueError):
    """A page cursor that no earlier page gave (the caller's mistake, not the store's)."""
