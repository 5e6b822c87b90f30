"""The per-case hash chain: seal a record onto the previous one.

Each record names the ``hash`` of the case's previous record in ``prev`` (64
zeros for seq 1, ``GENESIS``) and carries its own ``hash``, the sha256 of its
canonical bytes without ``hash``. Changing any earlier record changes its hash
and breaks every later link.

Two doors lead in: ``seal`` takes any mapping and checks every field and value
first (it seals what a migration or a test assembled by hand); ``seal_record``
takes the engine's typed ``AuditRecord``, whose values were checked where they
entered, and only encodes it (``engine.audit.entry`` says why that is enough).
Both give the same sealed record for the same fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.audit.canonical import assembled_bytes, canonical_bytes
from engine.audit.entry import AuditRecord
from engine.audit.errors import ChainError, RecordInvalid
from engine.audit.record import HEX64, record_problem

if TYPE_CHECKING:
    from engine.audit.signing import Signer

GENESIS = "0" * 64
"""The ``prev`` of every case's first record."""

HASH_PREFIX = b'{"hash":"'

_REPLACED = frozenset({"hash", "signature"})


class Sealed(dict[str, Any]):
    """A sealed record that remembers its audit-log line.

    Sealing already produces the canonical bytes the line is made of, so the line
    is kept beside the record and writers (the JSONL files, the stores) need not
    encode it again. A record sealed by ``seal_record`` keeps its typed form too
    (``entry``), so the outcome is read from it rather than parsed back from the
    dict. Like any sealed record, it must not be changed afterwards.

    Only ``_finish`` makes one, and it sets both slots (no ``__init__`` of its own:
    a Python-level one cost more than copying the fields).
    """

    __slots__ = ("entry", "line")

    line: bytes
    entry: AuditRecord | None


def seal(record: Mapping[str, Any], prev: str, signer: Signer | None = None) -> dict[str, Any]:
    """A new record: ``record``'s fields with ``prev`` and its ``hash`` set.

    Args:
        record: the record's fields (any ``prev``, ``signature`` and ``hash`` in it
            are replaced).
        prev: the ``hash`` of the case's previous record, or ``GENESIS`` for seq 1.
        signer: when given, the record is signed (its ``signature`` field, made over
            every other field, ``prev`` included) before it is hashed.

    Returns:
        A new dict; ``record`` itself is not changed. Its values are shared, not
        copied: do not mutate them afterwards.

    Raises:
        RecordInvalid: a field is missing, unknown or of the wrong type, or ``prev``
            does not suit the seq (``GENESIS`` exactly when seq is 1).
        NotCanonicalizable: a value has no canonical form (a float, say); the
            message names its path.
    """
    sealed = {key: value for key, value in record.items() if key not in _REPLACED}
    sealed["prev"] = prev
    if signer is not None:
        sealed["signature"] = signer.sign_record(sealed)
    problem = record_problem(sealed, sealed=False)
    if problem is not None:
        raise RecordInvalid(*problem)
    if (sealed["seq"] == 1) != (prev == GENESIS):
        raise RecordInvalid(
            "bad-first-record",
            f"seq {sealed['seq']} with prev {prev[:12]}…: seq 1 and only seq 1 "
            "follows the genesis (64 zeros)",
        )
    return _finish(sealed, canonical_bytes(sealed))


def seal_record(record: AuditRecord, prev: str, signer: Signer | None = None) -> Sealed:
    """The sealed form of the engine's typed ``record`` after ``prev``, signed when ``signer``.

    The same dict, hash and line as ``seal(record.to_wire(prev), prev, signer)``, without
    walking values that were checked where they entered (``engine.audit.entry``).

    Raises:
        RecordInvalid: a field a caller supplied (case id, actor, idempotency key) is
            of the wrong type, or ``prev`` does not suit the seq.
        NotCanonicalizable: a value has no canonical form (the message names its path).
    """
    wire = record.to_wire(prev)
    if not record.supplied_ok():
        problem = record_problem(wire, sealed=False)
        raise RecordInvalid(*(problem or ("bad-field-type", "a field has the wrong type")))
    if (record.seq == 1) != (prev == GENESIS):
        raise RecordInvalid(
            "bad-first-record",
            f"seq {record.seq} with prev {prev[:12]}…: seq 1 and only seq 1 "
            "follows the genesis (64 zeros)",
        )
    if signer is not None:
        body = assembled_bytes(wire)
        wire["signature"] = signer.sign_body(body)
    sealed = _finish(wire, assembled_bytes(wire))
    sealed.entry = record
    return sealed


def _finish(fields: dict[str, Any], body: bytes) -> Sealed:
    """``fields`` with the ``hash`` of their canonical ``body``, and the line they make."""
    digest = hashlib.sha256(body).hexdigest()
    result = Sealed(fields)
    result["hash"] = digest
    result.entry = None
    result.line = b"".join((HASH_PREFIX, digest.encode("ascii"), b'",', body[1:], b"\n"))
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainHead:
    """Where a case's chain stands: its last seq and hash (seq 0 and ``GENESIS`` when new).

    ``head.seal(record)`` checks that the record continues this chain, seals it,
    and returns the new head, so a writer never links to a stale hash.
    """

    case: str
    seq: int = 0
    hash: str = GENESIS

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> ChainHead:
        """The head after a sealed ``record`` (to continue a stored chain).

        Raises:
            RecordInvalid: the record is not sealed.
        """
        digest = record.get("hash")
        if not isinstance(digest, str) or not HEX64.fullmatch(digest):
            raise RecordInvalid("missing-field", "the record is not sealed (no valid 'hash')")
        return cls(case=str(record["case"]), seq=int(record["seq"]), hash=digest)

    def seal(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], ChainHead]:
        """Seal ``record`` as the next link of this chain.

        Args:
            record: fields of the case's next record (``case`` and ``seq`` must match).

        Returns:
            The sealed record and the head after it.

        Raises:
            ChainError: ``record`` is for another case or not seq ``self.seq + 1``.
            RecordInvalid: as ``seal``.
            NotCanonicalizable: as ``seal``.
        """
        if record.get("case") != self.case:
            raise ChainError(
                f"record for case {record.get('case')!r} sealed onto case {self.case!r}"
            )
        if record.get("seq") != self.seq + 1:
            raise ChainError(
                f"case {self.case}: expected seq {self.seq + 1}, got {record.get('seq')!r}"
            )
        sealed = seal(record, self.hash)
        return sealed, ChainHead(case=self.case, seq=self.seq + 1, hash=sealed["hash"])
