"""RFC 8785 canonical JSON, fast, and the hash of a record.

A record's ``hash`` is the sha256 of the RFC 8785 (JCS) bytes of the record
without ``hash``. The ``rfc8785`` package is the reference, but it is written in
Python and costs ~80x orjson (measured: 17 µs for the C ``json`` encoder, 2 µs for
orjson on a 1.4 kB record). For the values audit records hold (dicts, lists,
strings, safe integers, booleans, null: never floats) orjson with sorted keys
writes the very same bytes — compact, UTF-8, the same string escapes — except in
two corners we detect and hand to ``rfc8785``:

* RFC 8785 sorts keys by UTF-16 code units, orjson by code points; they differ
  only when a key holds a character beyond U+FFFF (rare CJK in names);
* integers beyond ±(2**53 - 1) have no JCS form (``rfc8785`` refuses them).

``tests/test_audit_chain.py`` checks the equivalence with Hypothesis.

``canonical_bytes`` walks its value first, to refuse floats (orjson would write
them) and name the path of anything without a JSON form. ``assembled_bytes`` is for
records the engine assembled from values it has already checked
(``engine.audit.entry``): it skips the walk and lets orjson's strict options refuse
what they can see (integers beyond ±(2**53 - 1), lone surrogates, non-string keys,
datetimes, dataclasses), handing any failure to ``canonical_bytes`` for the message.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import orjson
import rfc8785

from engine.audit.errors import NotCanonicalizable

MAX_SAFE_INT = 2**53 - 1
"""The largest integer with a JCS form (and the smallest is its negation)."""


_STRICT: Final = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""Sorted keys; integers within ±(2**53 - 1); datetimes and dataclasses refused, not
written (orjson writes them by default)."""


def _encode(value: object) -> bytes:
    """Compact JSON with sorted keys, non-ASCII kept (orjson, ~8x the C ``json`` encoder)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _reference(value: object) -> bytes:
    """``rfc8785.dumps``, with its errors turned into ours."""
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]  # any JSON value is accepted
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonicalizable("$", str(exc)) from exc


def canonical_bytes(value: object) -> bytes:
    """The RFC 8785 canonical JSON bytes of ``value``.

    Args:
        value: dicts with string keys, lists or tuples, strings, integers within
            ±(2**53 - 1), booleans and None, nested to any depth.

    Returns:
        The canonical UTF-8 bytes, identical to ``rfc8785.dumps(value)``.

    Raises:
        NotCanonicalizable: for a float (audit records hold exact numbers only), an
            integer out of range, a non-string key, a lone surrogate or any other
            type; the error's ``path`` names the place, e.g. ``$.guards[0].inputs.ratio``.
    """
    _check(value)
    try:
        data = _encode(value)
    except orjson.JSONEncodeError as exc:
        where = _find_surrogate(value, "$")
        if where is None:
            raise NotCanonicalizable("$", str(exc)) from exc
        raise NotCanonicalizable(where, "a string holds a lone surrogate (not UTF-8)") from exc
    if has_astral(data):
        return _reference(value)
    return data


def assembled_bytes(value: object) -> bytes:
    """The canonical bytes of a value assembled from checked parts, without walking it.

    Args:
        value: plain JSON whose parts were checked where they entered (so it holds
            no float: orjson would write one, and NaN as ``null``).

    Returns:
        The same bytes as ``canonical_bytes(value)``.

    Raises:
        NotCanonicalizable: as ``canonical_bytes``, for whatever the strict encoding
            refuses.
    """
    try:
        data = orjson.dumps(value, option=_STRICT)
    except orjson.JSONEncodeError:
        return canonical_bytes(value)  # names the path, or agrees after all
    if has_astral(data):
        return _reference(value)
    return data


def has_astral(data: bytes) -> bool:
    """Whether valid UTF-8 ``data`` holds a character beyond U+FFFF (a 4-byte sequence).

    Five ``memchr`` scans cost far less than a regex over the decoded text. ``find``
    and not ``in``: ``bytes.__contains__`` first tries its argument as an integer (a
    byte value), and for a bytes argument that raises and formats a TypeError inside,
    five of them per sealed record.
    """
    find = data.find
    return (
        find(b"\xf0") >= 0
        or find(b"\xf1") >= 0
        or find(b"\xf2") >= 0
        or find(b"\xf3") >= 0
        or find(b"\xf4") >= 0
    )


def encode_sorted(value: object) -> bytes:
    """The sorted encoding of a value already known to be plain, float-free JSON.

    It equals the canonical text unless a key holds a character beyond U+FFFF
    (then use ``reference_bytes``); integers must already be within range. This is
    verify's fast path for values straight from its float-refusing JSON decoder.

    Args:
        value: the output of a JSON decoder that refuses floats and unsafe integers.

    Returns:
        Compact UTF-8 JSON with keys sorted by code point; empty when the value has
        no encoding (a lone surrogate decoded from a ``\ud800`` escape), which no
        line's body equals.
    """
    try:
        return _encode(value)
    except orjson.JSONEncodeError:
        return b""


def reference_bytes(value: object) -> bytes:
    """``rfc8785.dumps(value)``, the reference canonical bytes (slow; for rare cases).

    Raises:
        NotCanonicalizable: the value has no canonical form.
    """
    return _reference(value)


def record_hash(record: Mapping[str, Any]) -> str:
    """The hex sha256 of the canonical bytes of ``record`` without its ``hash`` key.

    Args:
        record: an audit record, sealed or not.

    Returns:
        64 lower-case hex digits.

    Raises:
        NotCanonicalizable: when the record holds a value with no canonical form.
    """
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def _check(value: object) -> None:
    """Raise ``NotCanonicalizable`` (with a path) unless ``value`` is plain, float-free JSON."""
    # An iterative scan is ~25% faster than recursion; on failure, a recursive
    # pass finds the path for the message. ``item`` is Any rather than cast per
    # kind: ``cast(dict[object, object], …)`` builds a generic alias on every call.
    stack: list[Any] = [value]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                continue
        elif kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    break
                push(child)
            else:
                continue
        elif kind is list or kind is tuple:
            extend(item)
            continue
        elif _plain_subclass(item):
            continue
        _locate(value, "$")
        raise AssertionError("unreachable")  # pragma: no cover


def check_exact(value: object) -> None:
    """Raise unless ``value`` has a canonical form: ``canonical_bytes`` without the bytes.

    Raises:
        NotCanonicalizable: as ``canonical_bytes``.
    """
    _check(value)
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        where = _find_surrogate(value, "$")
        if where is None:
            raise NotCanonicalizable("$", str(exc)) from exc
        raise NotCanonicalizable(where, "a string holds a lone surrogate (not UTF-8)") from exc


def exact_copy(value: Any) -> Any:
    """A deep copy of ``value`` that is also its check: one walk instead of two.

    Values that come from outside (a payload, a case's data, what actions leave)
    are copied into the record that keeps them and must be exact JSON; this does
    both at once and then encodes the copy (in C) to find lone surrogates.

    Args:
        value: what ``canonical_bytes`` accepts.

    Returns:
        A copy that shares nothing mutable with ``value`` (tuples stay tuples).

    Raises:
        NotCanonicalizable: as ``canonical_bytes`` (the path starts at ``$``).
        RecursionError: nested too deeply to copy.
    """
    try:
        copied = _copy(value)
    except _Inexact:
        _locate(value, "$")
        raise AssertionError("unreachable") from None  # pragma: no cover
    try:
        orjson.dumps(copied)
    except orjson.JSONEncodeError as exc:
        where = _find_surrogate(copied, "$")
        if where is None:  # pragma: no cover - the walk refused every other cause
            raise NotCanonicalizable("$", str(exc)) from exc
        raise NotCanonicalizable(where, "a string holds a lone surrogate (not UTF-8)") from exc
    return copied


class _Inexact(Exception):
    """Raised inside ``_copy``; ``_locate`` then finds the path for the message."""


_KEPT = frozenset({str, bool, type(None)})
"""The types ``_copy`` keeps as they are, whatever their value (integers have a range)."""


def _copy(item: Any) -> Any:
    kind = type(item)
    if kind is str or kind is bool or item is None:
        return item
    if kind is int:
        if -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
            return item
        raise _Inexact
    # A child that is kept as it is takes no call: payloads and case data are mostly
    # counts and names, and the call cost more than the test.
    kept = _KEPT
    if kind is dict:
        out = {}
        for key, child in item.items():
            if type(key) is not str:
                raise _Inexact
            of = type(child)
            if (of is int and -MAX_SAFE_INT <= child <= MAX_SAFE_INT) or of in kept:
                out[key] = child
            else:
                out[key] = _copy(child)
        return out
    if kind is list:
        return [
            child
            if type(child) in kept
            or (type(child) is int and -MAX_SAFE_INT <= child <= MAX_SAFE_INT)
            else _copy(child)
            for child in item
        ]
    if kind is tuple:
        return tuple(_copy(child) for child in item)
    if _plain_subclass(item):
        return copy.deepcopy(item)
    raise _Inexact


def _plain_subclass(item: object) -> bool:
    """Subclasses (IntEnum, StrEnum, OrderedDict) serialize like their base."""
    if isinstance(item, str):
        return True
    if isinstance(item, int):
        return -MAX_SAFE_INT <= item <= MAX_SAFE_INT
    if isinstance(item, dict):
        if all(isinstance(k, str) for k in item):
            _check(list(item.values()))
            return True
        return False
    if isinstance(item, list | tuple):
        _check(list(item))
        return True
    return False


def _locate(value: object, path: str) -> None:
    """Raise ``NotCanonicalizable`` naming the first bad place under ``value``."""
    if isinstance(value, str | bool) or value is None:
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise NotCanonicalizable(
                path,
                f"integer {value} is outside ±(2**53 - 1), which JSON numbers cannot "
                "hold exactly; record it as a string",
            )
        return
    if isinstance(value, float):
        raise NotCanonicalizable(
            path,
            f"float {value!r} found; audit records hold exact numbers only: record an "
            'integer or a string such as "2/3" or "0.5"',
        )
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                raise NotCanonicalizable(path, f"object key {key!r} is not a string")
            _locate(child, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _locate(child, f"{path}[{index}]")
        return
    raise NotCanonicalizable(
        path,
        f"{type(value).__name__} is not JSON; convert it before recording "
        "(Fraction and Decimal as strings, datetimes as RFC 3339 strings, sets as lists)",
    )


def _find_surrogate(value: object, path: str) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, child in value.items():
            found = _find_surrogate(key, f"{path}.{key!a}") or _find_surrogate(
                child, f"{path}.{key}"
            )
            if found:
                return found
    if isinstance(value, list | tuple):
        for index, child in enumerate(value):
            found = _find_surrogate(child, f"{path}[{index}]")
            if found:
                return found
    return None
