"""The errors the audit layer raises, all under ``engine.errors.AuditError``::

    AuditError
    ├── NotCanonicalizable   a value has no RFC 8785 form we accept (float, huge int, …)
    ├── RecordInvalid        a record lacks a field or has one of the wrong type
    ├── ChainError           a record does not continue the chain it is sealed onto
    ├── LineError            a line of a JSONL audit file cannot be read as a record
    └── LogUnreadable        the audit file cannot be opened or read at all

``NotCanonicalizable`` and ``RecordInvalid`` are also ``ValueError``s: a caller
handing us a bad value already catches that.
"""

from __future__ import annotations

from typing import Literal

from engine.errors import AuditError

LineProblem = Literal["invalid-utf8", "invalid-json", "truncated-line", "not-an-object"]


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
