"""Check every hash chain in an audit log and report the first thing wrong.

For each line, in this order: it ends with a newline (else ``truncated-line``),
is UTF-8 (``invalid-utf8``), is one JSON object without floats (``invalid-json``,
``not-an-object``), has format version 1 (``unknown-version``) and the fields of
a record (``missing-field``, ``unknown-field``, ``bad-field-type``), is laid out
exactly as the writer lays it out (``not-canonical``), and its hash is the sha256
of its content (``hash-mismatch``). Then the record must continue its case's
chain: seq 1 ``case.opened`` with ``prev`` = 64 zeros first (``bad-first-record``),
then seq + 1 (``seq-gap``, ``duplicate-seq``, ``out-of-order``) linking to the
previous hash (``broken-link``), at a time no earlier than the previous
record's (``time-backwards``). A file with no record at all is ``empty-log``.

With a ``Verifier`` (a public key), every signature must be by that key and
match its record (``bad-signature``); once a case has a signed record, every
later one must be signed too, and every case must end with a signed record
(``unsigned-record``). With kept heads (``since``), the record at each kept
head's seq must still have the kept hash (``head-mismatch``) and the case must
still reach that seq (``head-missing``).

Resuming (``after``): an auditor who verified a log up to each case's head can
verify only what was appended since. The lines then hold the records after those
heads; each case continues from its head (seq + 1, ``prev`` = its hash) instead of
from seq 1. Records at or before a head are not read, so a record changed there
since is not caught: the report says so (``resumed``, ``proves``), and only a
full verify, or kept heads (``since``), proves the earlier records unchanged.

What the chain alone cannot see: records missing from the *end* of a case (the
file is a valid shorter log), or a trail rewritten and re-sealed by someone who
can write the store. Kept heads catch the first; signatures by a key the
writer alone holds catch the second (docs/audit-log.md, "What verify proves").

Speed: verify must keep up with half the speed of reading, parsing and hashing
the file. The layout makes that possible: the hashed bytes are a slice of the
line, and the layout check is one C-encoder call and a string compare.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from engine.audit.canonical import (
    MAX_SAFE_INT,
    canonical_bytes,
    encode_sorted,
    has_astral,
    reference_bytes,
)
from engine.audit.chain import GENESIS
from engine.audit.errors import NotCanonicalizable
from engine.audit.jsonl import BODY_OFFSET, open_log, truncated_message
from engine.audit.record import record_problem

if TYPE_CHECKING:
    # Only a caller that checks signatures loads the cryptography library.
    from engine.audit.signing import Verifier

FailureKind = Literal[
    "truncated-line",
    "invalid-utf8",
    "invalid-json",
    "not-an-object",
    "unknown-version",
    "missing-field",
    "unknown-field",
    "bad-field-type",
    "not-canonical",
    "hash-mismatch",
    "bad-first-record",
    "broken-link",
    "seq-gap",
    "duplicate-seq",
    "out-of-order",
    "time-backwards",
    "empty-log",
    "bad-signature",
    "unsigned-record",
    "head-mismatch",
    "head-missing",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyFailure:
    """The first thing wrong in a log.

    ``line`` is the 1-based line in the file (for ``verify_records``, the record's
    1-based position). ``case`` and ``seq`` are None when the line is too damaged
    to tell; for damaged lines they are read from the raw text where it is clear.
    """

    kind: FailureKind
    line: int
    case: str | None
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.where}{self.message}"

    @property
    def where(self) -> str:
        """``"case C seq S: "``, or as much of it as is known."""
        if self.case is None:
            return "" if self.seq is None else f"seq {self.seq}: "
        return f"case {self.case} seq {'?' if self.seq is None else self.seq}: "


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseHead:
    """The last record verified for a case (or a head an auditor kept: ``CASE:SEQ:HASH``)."""

    case: str
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.case}:{self.seq}:{self.hash}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """What ``verify`` found: ``ok``, counts, each case's head, and the first failure.

    ``records`` and ``heads`` cover the records verified before the failure, if any.
    """

    ok: bool
    records: int
    cases: int
    heads: tuple[CaseHead, ...]
    failure: VerifyFailure | None = None
    key: str | None = None
    """The fingerprint of the key every case's signatures were checked with, if any."""
    kept: int = 0
    """How many kept heads (``since``) were found unchanged."""
    after_kept: int = 0
    """Records after the kept heads, in the cases they name."""
    signed: int = 0
    """Records that carry a signature (checked only when ``key`` is set)."""
    resumed: int = 0
    """Cases continued from a head verified earlier (``after``); earlier records were not read."""

    @property
    def message(self) -> str:
        """``"ok: N records in M cases"``, or the failure as ``line L: case C seq S: …``."""
        if self.failure is None:
            return f"ok: {self.records} records in {self.cases} cases"
        return str(self.failure)

    @property
    def proves(self) -> str:
        """What an ``ok`` report proves, in one sentence (for people, not programs)."""
        if self.key is not None:
            what = f"chains intact; signatures by key {self.key[:16]}… valid up to each head"
        elif self.signed:
            what = (
                "chains intact (signatures present but not checked: pass --public-key; "
                "proves only self-consistency)"
            )
        else:
            what = "chains intact (unsigned: proves only self-consistency)"
        if self.kept:
            what += (
                f"; {self.kept} kept head(s) unchanged and present, "
                f"{self.after_kept} record(s) after them"
            )
        if self.resumed:
            what += (
                f"; {self.resumed} case(s) resumed from heads verified earlier: "
                "records at or before those heads were not re-checked"
            )
        return what


class _Chains:
    """Per-case (seq, hash, line, at) of the last verified record, and the checks beyond links."""

    __slots__ = (
        "heads", "kept", "key", "last_signed", "matched", "records", "resumed", "signed", "wanted",
    )  # fmt: skip

    def __init__(
        self,
        verifier: Verifier | None = None,
        since: Iterable[CaseHead] = (),
        after: Iterable[CaseHead] = (),
    ) -> None:
        # A resumed head has line 0 (it is not in the lines) and no time: the first
        # record after it is not compared with the head's time, which was not read.
        self.heads: dict[str, tuple[int, str, int, str]] = {
            head.case: (head.seq, head.hash, 0, "") for head in after
        }
        self.resumed = len(self.heads)
        self.records = 0
        self.key = verifier.fingerprint if verifier is not None else None
        self.last_signed: dict[str, int] = {}
        self.signed = 0
        self.wanted: dict[str, CaseHead] = {}
        for head in since:
            self.wanted[head.case] = head
        self.matched: set[str] = set()
        self.kept = 0

    def signature_problem(
        self, verifier: Verifier, case: str, seq: int, signature: object, body: bytes
    ) -> tuple[FailureKind, str] | None:
        """Check one record's signature (``body``: its canonical bytes without hash/signature)."""
        if signature is None:
            last = self.last_signed.get(case)
            if last is None:
                return None
            return "unsigned-record", (
                f"not signed, though seq {last} of this case is: records after a signed "
                "one must be signed too (an unsigned record can be forged by anyone)"
            )
        self.signed += 1
        reason = verifier.record_problem(signature, body)
        if reason is not None:
            return "bad-signature", reason
        self.last_signed[case] = seq
        return None

    def kept_problem(self, case: str, seq: int, digest: str) -> tuple[FailureKind, str] | None:
        kept = self.wanted.get(case)
        if kept is None or kept.seq != seq:
            return None
        if kept.hash != digest:
            return "head-mismatch", (
                f"the kept head says seq {seq} has hash {kept.hash[:16]}…, the log has "
                f"{digest[:16]}…: records at or before seq {seq} were changed"
            )
        self.matched.add(case)
        self.kept += 1
        return None

    def end_problem(self) -> VerifyFailure | None:
        """What is wrong once every line is read: no record, unsigned ends, missing heads."""
        if not self.heads:
            return VerifyFailure(
                kind="empty-log", line=0, case=None, seq=None,
                message="the log holds no records: there is nothing to verify",
            )  # fmt: skip
        if self.key is not None:
            for case, (seq, _digest, line, _at) in sorted(self.heads.items()):
                last = self.last_signed.get(case)
                if last != seq:
                    message = (
                        f"no record of this case is signed by key {self.key[:16]}…"
                        if last is None
                        else f"the case ends unsigned after seq {last}"
                    )
                    return _located("unsigned-record", line, case, seq, message)
        for case, kept in sorted(self.wanted.items()):
            if case in self.matched:
                continue
            head = self.heads.get(case)
            if head is None:
                message = f"case {case} is missing from the log; the kept head is at seq {kept.seq}"
                return VerifyFailure(
                    kind="head-missing", line=0, case=case, seq=kept.seq, message=message
                )
            message = (
                f"the case ends at seq {head[0]}, before the kept head at seq {kept.seq}: "
                "records were removed"
            )
            return _located("head-missing", head[2], case, head[0], message)
        return None

    def link_problem(
        self, case: str, seq: int, kind: str, prev: str, line: int
    ) -> tuple[FailureKind, str] | None:
        head = self.heads.get(case)
        if head is None:
            if seq == 1 and kind == "case.opened" and prev == GENESIS:
                return None
            if seq != 1:
                return "bad-first-record", (
                    f"case {case} starts at seq {seq}: its first record "
                    "(seq 1, case.opened) is missing or comes later"
                )
            return "bad-first-record", (
                "seq 1 must be a case.opened record with prev = 64 zeros; "
                f"found {kind} with prev {prev[:16]}…"
            )
        last_seq, last_hash, last_line, _at = head
        where = f"line {last_line}" if last_line else "the head resumed from"
        if seq == last_seq + 1:
            if prev == last_hash:
                return None
            return "broken-link", (
                f"broken link: prev is {prev[:16]}…, but seq {last_seq} ({where}) "
                f"has hash {last_hash[:16]}…"
            )
        if seq == last_seq:
            return "duplicate-seq", f"duplicate seq: seq {seq} is also at {where}"
        if seq < last_seq:
            return "out-of-order", f"out of order: seq {seq} comes after seq {last_seq} ({where})"
        return "seq-gap", (
            f"seq gap: expected seq {last_seq + 1} after seq {last_seq} ({where}), "
            f"found seq {seq}: records are missing or out of order"
        )

    def report(self, failure: VerifyFailure | None = None) -> VerifyReport:
        heads = tuple(
            CaseHead(case=case, seq=seq, hash=digest)
            for case, (seq, digest, _line, _at) in sorted(self.heads.items())
        )
        after = sum(
            self.heads[case][0] - kept.seq
            for case, kept in self.wanted.items()
            if case in self.matched
        )
        return VerifyReport(
            ok=failure is None,
            records=self.records,
            cases=len(self.heads),
            heads=heads,
            failure=failure,
            key=self.key,
            kept=self.kept,
            after_kept=after,
            signed=self.signed,
            resumed=self.resumed,
        )

    def finish(self) -> VerifyReport:
        return self.report(self.end_problem())


class _Refused(ValueError):
    """A JSON number the writer never writes (its line cannot be canonical)."""


def _refuse_float(text: str) -> object:
    raise _Refused(
        f"non-integer number {text}: audit records hold exact numbers only "
        '(integers, or strings such as "2/3")'
    )


def _safe_int(text: str) -> int:
    number = int(text)
    if len(text) > 15 and not -MAX_SAFE_INT <= number <= MAX_SAFE_INT:
        raise _Refused(f"integer {text} is outside ±(2**53 - 1) and has no canonical form")
    return number


_DECODER = json.JSONDecoder(
    parse_float=_refuse_float, parse_constant=_refuse_float, parse_int=_safe_int
)
_scan = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner; skips JSONDecoder.decode's Python wrapper

# Best-effort identification of a damaged line. In the layout, top-level "at" is
# directly followed by "case", and "seq" by "to"; payloads rarely mimic that.
_GUESS_CASE = re.compile(rb'"at":"[^"\\]*","case":"((?:[^"\\]|\\.)*)",')
_GUESS_SEQ = re.compile(rb'"seq":([1-9][0-9]{0,17}),"to":"')


def verify_file(
    path: str | os.PathLike[str],
    *,
    verifier: Verifier | None = None,
    since: Iterable[CaseHead] = (),
    after: Iterable[CaseHead] = (),
) -> VerifyReport:
    """Verify every chain in a JSON Lines audit file.

    Args:
        path: the audit file.
        verifier: when given, signatures are required and checked with its key.
        since: heads kept from an earlier check; each must still be in the log.
        after: heads verified earlier; the file holds only what came after them
            (see ``verify_lines``).

    Returns:
        The report; ``ok`` is False and ``failure`` set at the first problem.

    Raises:
        LogUnreadable: the file cannot be opened (missing, a directory, no permission).
    """
    with open_log(path) as handle:
        return verify_lines(handle, verifier=verifier, since=since, after=after)


def verify_bytes(
    data: bytes, *, verifier: Verifier | None = None, since: Iterable[CaseHead] = ()
) -> VerifyReport:
    """Verify an audit log held in memory (the bytes of a whole file)."""
    return verify_lines(io.BytesIO(data), verifier=verifier, since=since)


def verify_lines(  # noqa: PLR0915 - one hot loop
    lines: Iterable[bytes],
    *,
    verifier: Verifier | None = None,
    since: Iterable[CaseHead] = (),
    after: Iterable[CaseHead] = (),
) -> VerifyReport:
    """Verify lines as iterating a binary file yields them (each ending in ``\\n``).

    Args:
        lines: the file's lines, newline kept; only the last may lack one.
        verifier: when given, signatures are required and checked with its key.
        since: heads kept from an earlier check; each must still be in the log.
        after: heads verified earlier (e.g. the ``heads`` of the last report):
            ``lines`` hold only the records appended since. A case named here
            continues from its head, one not named starts at seq 1. Records at or
            before these heads are not read, so a change to them is not caught
            (``resumed`` and ``proves`` say so). With no new record, the report is
            ok and keeps the heads as they were.

    Returns:
        The report.

    Raises:
        ValueError: ``after`` with ``verifier`` or ``since`` (signatures and kept
            heads need the records before the heads: verify the whole log), or
            two heads for one case.
    """
    resume = tuple(after)
    kept = tuple(since)
    if resume:
        if verifier is not None or kept:
            raise ValueError(
                "resuming after verified heads cannot check signatures or kept heads, "
                "which need the records before them: verify the whole log instead"
            )
        if len({head.case for head in resume}) != len(resume):
            raise ValueError("two heads to resume from for one case")
    chains = _Chains(verifier, kept, resume)
    wanted = chains.wanted
    heads = chains.heads
    sha256 = hashlib.sha256
    scan = _scan
    check = record_problem
    body_at = BODY_OFFSET
    for number, raw in enumerate(lines, 1):
        if raw[-1:] != b"\n":
            return chains.report(_damaged("truncated-line", number, raw, truncated_message(raw)))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"invalid UTF-8 at byte {exc.start + 1} of the line"
            return chains.report(_damaged("invalid-utf8", number, raw, message))
        try:
            record, end = scan(text, 0)
        except StopIteration:
            message = "invalid JSON at column 1: expecting a record object"
            return chains.report(_damaged("invalid-json", number, raw, message))
        except json.JSONDecodeError as exc:
            message = f"invalid JSON at column {exc.colno}: {exc.msg}"
            return chains.report(_damaged("invalid-json", number, raw, message))
        except _Refused as exc:
            return chains.report(_damaged("bad-field-type", number, raw, str(exc)))
        except (ValueError, RecursionError) as exc:
            return chains.report(_damaged("invalid-json", number, raw, str(exc)))
        if end != len(text) - 1:
            if text[end:].isspace():
                message = f"not in canonical form at byte {end + 1}: whitespace after the record"
                return chains.report(_damaged("not-canonical", number, raw, message))
            message = f"invalid JSON at column {end + 1}: extra data after the record"
            return chains.report(_damaged("invalid-json", number, raw, message))
        if type(record) is not dict:
            message = f"a line must hold one JSON object, not {type(record).__name__}"
            return chains.report(_damaged("not-an-object", number, raw, message))

        problem = check(record)
        if problem is not None:
            case_, seq_ = record.get("case"), record.get("seq")
            return chains.report(_located(problem[0], number, case_, seq_, problem[1]))
        case: str = record["case"]
        seq: int = record["seq"]

        digest: str = record.pop("hash")
        astral = has_astral(raw)
        if astral:
            # A key beyond U+FFFF may sort differently in UTF-16: ask the reference.
            try:
                in_layout = raw[body_at:-1] == reference_bytes(record)[1:]
            except NotCanonicalizable:
                in_layout = False
        else:
            in_layout = raw[body_at:-1] == encode_sorted(record)[1:]
        if not in_layout or text[9:73] != digest or not raw.startswith(b'{"hash":"'):
            message = _layout_message(raw, digest, record)
            return chains.report(_located("not-canonical", number, case, seq, message))
        actual = sha256(b"{" + raw[body_at:-1]).hexdigest()
        if actual != digest:
            message = _mismatch_message(actual, digest)
            return chains.report(_located("hash-mismatch", number, case, seq, message))

        head = heads.get(case)
        if head is None or seq != head[0] + 1 or record["prev"] != head[1]:
            link = chains.link_problem(case, seq, record["kind"], record["prev"], number)
            if link is not None:
                return chains.report(_located(link[0], number, case, seq, link[1]))
        at: str = record["at"]
        if head is not None and _earlier(at, head[3]):
            message = _backwards_message(at, head)
            return chains.report(_located("time-backwards", number, case, seq, message))
        if verifier is not None:
            signature = record.pop("signature", None)
            body = reference_bytes(record) if astral else encode_sorted(record)
            problem = chains.signature_problem(verifier, case, seq, signature, body)
            if problem is not None:
                return chains.report(_located(problem[0], number, case, seq, problem[1]))
        elif "signature" in record:
            chains.signed += 1
        if wanted and case in wanted:
            problem = chains.kept_problem(case, seq, digest)
            if problem is not None:
                return chains.report(_located(problem[0], number, case, seq, problem[1]))
        heads[case] = (seq, digest, number, at)
        chains.records += 1
    return chains.finish()


def verify_records(records: Iterable[Mapping[str, Any]]) -> VerifyReport:
    """Verify records held in memory (e.g. from a store), in the order given.

    The same checks as ``verify_file`` except the line layout; the failure's
    ``line`` is the record's 1-based position.

    Args:
        records: sealed records; several cases may be interleaved.

    Returns:
        The report.
    """
    chains = _Chains()
    for number, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            message = f"a record must be an object, not {type(record).__name__}"
            return chains.report(_located("not-an-object", number, None, None, message))
        problem = record_problem(record)
        if problem is not None:
            case_, seq_ = record.get("case"), record.get("seq")
            return chains.report(_located(problem[0], number, case_, seq_, problem[1]))
        case: str = record["case"]
        seq: int = record["seq"]
        digest: str = record["hash"]
        body = {key: value for key, value in record.items() if key != "hash"}
        try:
            actual = hashlib.sha256(canonical_bytes(body)).hexdigest()
        except NotCanonicalizable as exc:
            message = f"no canonical form: {exc}"
            return chains.report(_located("bad-field-type", number, case, seq, message))
        if actual != digest:
            message = _mismatch_message(actual, digest)
            return chains.report(_located("hash-mismatch", number, case, seq, message))
        link = chains.link_problem(case, seq, record["kind"], record["prev"], number)
        if link is not None:
            return chains.report(_located(link[0], number, case, seq, link[1]))
        head = chains.heads.get(case)
        if head is not None and _earlier(record["at"], head[3]):
            message = _backwards_message(record["at"], head)
            return chains.report(_located("time-backwards", number, case, seq, message))
        chains.heads[case] = (seq, digest, number, record["at"])
        chains.records += 1
    return chains.finish()


def _earlier(at: str, before: str) -> bool:
    """Whether RFC 3339 time ``at`` is before ``before``.

    Texts of one length with the same offset compare as strings (the common case,
    and fast); otherwise both are read as instants.
    """
    if len(at) == len(before) and at[-6:] == before[-6:]:
        return at < before
    try:
        return _instant(at) < _instant(before)
    except ValueError:
        return False  # the record check already holds the form; an impossible date is not "earlier"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def _backwards_message(at: str, head: tuple[int, str, int, str]) -> str:
    return (
        f"time runs backwards: at {at} is before seq {head[0]} (line {head[2]}) at {head[3]}; "
        "a case's records are in time order"
    )


def _mismatch_message(actual: str, digest: str) -> str:
    return (
        f"hash mismatch: the record hashes to {actual}, but its hash field says {digest}; "
        "it was changed after it was sealed"
    )


def _located(kind: str, line: int, case: object, seq: object, message: str) -> VerifyFailure:
    return VerifyFailure(
        kind=kind,  # type: ignore[arg-type]  # record_problem returns FailureKind values
        line=line,
        case=case if isinstance(case, str) else None,
        seq=seq if type(seq) is int else None,
        message=message,
    )


def _damaged(kind: FailureKind, line: int, raw: bytes, message: str) -> VerifyFailure:
    """A failure for a line that does not parse; case and seq read from its text if clear."""
    case_match = _GUESS_CASE.search(raw)
    seq_match = _GUESS_SEQ.search(raw)
    case = seq = None
    if case_match is not None:
        try:
            case = json.loads(b'"' + case_match.group(1) + b'"')
        except ValueError:
            case = None
    if seq_match is not None:
        seq = int(seq_match.group(1))
    return VerifyFailure(kind=kind, line=line, case=case, seq=seq, message=message)


def _layout_message(raw: bytes, digest: str, record: dict[str, Any]) -> str:
    """Say where a line departs from the writer's layout of the same record."""
    try:
        body = canonical_bytes(record)
    except NotCanonicalizable as exc:
        return f"not in canonical form: {exc}"
    expected = b'{"hash":"' + digest.encode() + b'",' + body[1:] + b"\n"
    column = next(
        (i for i, (a, b) in enumerate(zip(raw, expected, strict=False)) if a != b),
        min(len(raw), len(expected)),
    )
    return (
        f"not in canonical form at byte {column + 1}: the line differs from the writer's "
        "layout of the same record (whitespace, escapes, key order or number form)"
    )
