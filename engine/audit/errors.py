"""The errors the audit layer raises, kept importable from here; defined in ``engine.errors``::

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

from engine.errors import (
    AuditError,
    ChainError,
    LineError,
    LineProblem,
    LogUnreadable,
    NotCanonicalizable,
    RecordInvalid,
)

__all__ = [
    "AuditError",
    "ChainError",
    "LineError",
    "LineProblem",
    "LogUnreadable",
    "NotCanonicalizable",
    "RecordInvalid",
]
