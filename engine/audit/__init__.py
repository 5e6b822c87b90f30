"""The audit log: canonical JSON, per-case hash chains, JSON Lines, and verify.

Records are plain dicts built by the runtime (the format is in
``docs/audit-log.md`` and ``schemas/audit-record.schema.json``). ``seal`` links a
record to its case's previous one; ``append_records``/``write_records`` write
them; ``verify_file`` checks every chain in a file.
"""

from __future__ import annotations

from engine.audit.canonical import MAX_SAFE_INT, canonical_bytes, record_hash
from engine.audit.chain import GENESIS, ChainHead, Sealed, seal
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
    "CaseHead",
    "ChainError",
    "ChainHead",
    "FailureKind",
    "LineError",
    "LogUnreadable",
    "NotCanonicalizable",
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
    "verify_bytes",
    "verify_file",
    "verify_lines",
    "verify_records",
    "write_file",
    "write_records",
]
