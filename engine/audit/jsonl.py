"""Audit records as JSON Lines: the one byte layout, written and read.

Every line is exactly what ``encode_line`` produces: the ``hash`` member first,
then the record's canonical bytes without ``hash`` (from the second byte on),
then ``\\n``::

    {"hash":"<64 hex>",<canonical bytes of the record without hash, minus "{">\\n

So the bytes that were hashed are right there in the line: ``"{" + line[75:-1]``.
Nothing else is accepted (no extra whitespace, no ``\\u`` escapes a canonical
writer would not use, no other key order): a byte changed anywhere either
breaks the layout or the hash. Several cases may share a file, interleaved.

Writing is append (optionally fsync'd per batch) or whole-file atomic (temp file
in the same directory, fsync, ``os.replace``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import HASH_PREFIX, Sealed
from engine.audit.errors import LineError, LogUnreadable, RecordInvalid
from engine.audit.record import HEX64
from engine.regular_file import open_regular

"""Every line starts with these bytes."""
BODY_OFFSET = len(HASH_PREFIX) + 64 + 2
"""Where the record's canonical bytes (minus their ``{``) start in a line: 75."""


def line_of(record: Mapping[str, Any]) -> bytes:
    """The line for a record the caller just sealed: kept from sealing when it can be.

    ``seal`` returns a ``Sealed`` record that carries the line made from the very bytes
    it hashed, so a writer handing it straight to storage need not encode it again.
    Anything else goes through ``encode_line``, which re-checks the hash.
    """
    if isinstance(record, Sealed):
        return record.line
    return encode_line(record)


def encode_line(record: Mapping[str, Any]) -> bytes:
    """The line for a sealed record, newline included.

    Args:
        record: a sealed record (with ``prev`` and ``hash``).

    Returns:
        The UTF-8 line as ``verify`` expects it.

    Raises:
        RecordInvalid: the record has no valid ``hash`` or its hash does not match
            its content (it was changed after sealing).
        NotCanonicalizable: a value has no canonical form.
    """
    digest = record.get("hash")
    if not isinstance(digest, str) or not HEX64.fullmatch(digest):
        raise RecordInvalid("missing-field", "only sealed records are written (no valid 'hash')")
    body = canonical_bytes({key: value for key, value in record.items() if key != "hash"})
    if body == b"{}" or hashlib.sha256(body).hexdigest() != digest:
        raise RecordInvalid(
            "hash-mismatch",
            f"case {record.get('case')} seq {record.get('seq')}: the record was changed "
            "after it was sealed (its hash does not match); seal it again",
        )
    return b"".join((HASH_PREFIX, digest.encode("ascii"), b'",', body[1:], b"\n"))


def write_lines(handle: IO[bytes], records: Iterable[Mapping[str, Any]]) -> int:
    """Write records to an open binary file; return how many were written.

    Raises:
        RecordInvalid: as ``encode_line``.
        NotCanonicalizable: as ``encode_line``.
    """
    count = 0
    for record in records:
        handle.write(encode_line(record))
        count += 1
    return count


def append_records(
    path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]], *, fsync: bool = False
) -> int:
    """Append sealed records to ``path`` (created if missing).

    Every line is encoded before the file is touched, so a bad record appends nothing.

    Args:
        path: the audit file.
        records: sealed records, in the order to append.
        fsync: flush and ``os.fsync`` before returning, so the lines survive a crash.

    Returns:
        The number of records appended.

    Raises:
        RecordInvalid: as ``encode_line``.
        NotCanonicalizable: as ``encode_line``.
        OSError: the file cannot be written.
    """
    lines = [encode_line(record) for record in records]
    with open(path, "ab") as handle:
        handle.write(b"".join(lines))
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    return len(lines)


def write_records(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Replace ``path`` with exactly these records, atomically.

    The lines go to a temporary file in the same directory, which is fsync'd and
    then renamed over ``path``: a reader sees the old file or the new one, never
    half of one.

    Args:
        path: the audit file.
        records: sealed records.

    Returns:
        The number of records written.

    Raises:
        RecordInvalid: as ``encode_line`` (``path`` is left as it was).
        NotCanonicalizable: as ``encode_line``.
        OSError: the directory cannot be written.
    """
    target = Path(path)
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            count = write_lines(handle, records)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(target.parent)
    return count


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(descriptor)


def open_log(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open an audit file for reading, binary.

    Raises:
        LogUnreadable: it is missing, a directory, a FIFO or device (which would block
            or never end) or not readable; the message says which.
    """
    try:
        return open_regular(path)
    except FileNotFoundError as exc:
        raise LogUnreadable(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise LogUnreadable(f"{path}: is a directory, not an audit file") from exc
    except OSError as exc:
        raise LogUnreadable(f"{path}: cannot read: {exc.strerror or exc}") from exc


def parse_line(raw: bytes, line: int) -> dict[str, Any]:
    """Parse one line (with its newline) into a record, without checking its fields.

    Args:
        raw: the line's bytes, as iterating a binary file gives them.
        line: its 1-based number, for the error.

    Returns:
        The record.

    Raises:
        LineError: ``truncated-line`` (no newline: the file was cut or is being
            written), ``invalid-utf8``, ``invalid-json`` or ``not-an-object``.
    """
    if not raw.endswith(b"\n"):
        raise LineError(line=line, kind="truncated-line", message=truncated_message(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(
            line=line, kind="invalid-utf8", message=f"invalid UTF-8 at byte {exc.start + 1}"
        ) from exc
    try:
        value = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_float)
    except json.JSONDecodeError as exc:
        raise LineError(
            line=line, kind="invalid-json", message=f"invalid JSON at column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise LineError(line=line, kind="invalid-json", message=str(exc)) from exc
    if not isinstance(value, dict):
        raise LineError(
            line=line,
            kind="not-an-object",
            message=f"a line must hold one JSON object, not {type(value).__name__}",
        )
    return value


def read_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for every line of an audit file.

    Fields, layout and hashes are not checked here; ``verify_file`` does that.

    Raises:
        LogUnreadable: the file cannot be opened.
        LineError: a line is not a JSON object (see ``parse_line``).
    """
    with open_log(path) as handle:
        for number, raw in enumerate(handle, 1):
            yield number, parse_line(raw, number)


def read_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of an audit file, in file order (fields and hashes unchecked).

    Raises:
        LogUnreadable: the file cannot be opened.
        LineError: a line is not a JSON object (see ``parse_line``).
    """
    return [record for _number, record in read_records(path)]


def write_file(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Replace ``path`` with these records atomically (``write_records``); return the count.

    Raises:
        RecordInvalid: as ``encode_line``.
        NotCanonicalizable: as ``encode_line``.
        OSError: the directory cannot be written.
    """
    return write_records(path, records)


def truncated_message(raw: bytes) -> str:
    """Why a last line without a newline is refused."""
    return (
        f"truncated line: the file ends inside a record ({len(raw)} bytes, no newline); "
        "it was cut short or is still being written"
    )


def _refuse_float(text: str) -> object:
    raise ValueError(
        f"non-integer number {text} found; audit records hold exact numbers only "
        '(integers, or strings such as "2/3")'
    )
