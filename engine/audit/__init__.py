"""The audit log: typed records, canonical JSON, per-case hash chains, JSON Lines, verify.

The runtime builds each record as an ``AuditRecord`` and ``seal_record`` links it
to its case's previous one, giving the plain dict that stores and files keep (the
format is in ``docs/audit-log.md`` and ``schemas/audit-record.schema.json``);
``seal`` does the same for a record given as a dict, checking every field.
``append_records``/``write_records`` write them; ``verify_file`` checks every
chain in a file.
"""

from __future__ import annotations

from engine.audit.canonical import MAX_SAFE_INT, canonical_bytes, record_hash
from engine.audit.chain import GENESIS, ChainHead, Sealed, seal, seal_record
from engine.audit.entry import AuditRecord, ProcedureStamp, Reason
from engine.audit.errors import (
    ChainError,
    LineError,
    LogUnreadable,
    NotCanonicalizable,
    RecordInvalid,
)
from engine.audit.jsonl import (
    append_records,
    encode_line,
    line_of,
    parse_line,
    read_file,
    read_records,
    write_file,
    write_records,
)
from engine.audit.record import FORMAT_VERSION, KINDS, record_problem
from engine.audit.verify import (
    CaseHead,
    FailureKind,
    VerifyFailure,
    VerifyReport,
    verify_bytes,
    verify_file,
    verify_lines,
    verify_records,
)

__all__ = [
    "FORMAT_VERSION",
    "GENESIS",
    "KINDS",
    "MAX_SAFE_INT",
    "AuditRecord",
    "CaseHead",
    "ChainError",
    "ChainHead",
    "FailureKind",
    "LineError",
    "LogUnreadable",
    "NotCanonicalizable",
    "ProcedureStamp",
    "Reason",
    "RecordInvalid",
    "Sealed",
    "VerifyFailure",
    "VerifyReport",
    "append_records",
    "canonical_bytes",
    "encode_line",
    "line_of",
    "parse_line",
    "read_file",
    "read_records",
    "record_hash",
    "record_problem",
    "seal",
    "seal_record",
    "verify_bytes",
    "verify_file",
    "verify_lines",
    "verify_records",
    "write_file",
    "write_records",
]
