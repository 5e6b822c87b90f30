"""The fields of an audit record (format version 1) and the check of their types.

One check serves ``seal`` (catching a runtime bug before it is hashed) and
``verify`` (catching a forged or foreign record). It checks the top level and the
shape of ``actor``, ``procedure`` and ``reason``; the full shape, down to each
guard's keys, is ``schemas/audit-record.schema.json`` (a test keeps the two in step).
It is on verify's hot path, so it is written for speed: set operations and
exact type tests, no per-field function calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

FORMAT_VERSION: Final = 1

Kind = Literal["case.opened", "event.applied", "event.refused", "timer.fired", "case.migrated"]
KINDS: Final = frozenset(
    {"case.opened", "event.applied", "event.refused", "timer.fired", "case.migrated"}
)

REQUIRED_FIELDS: Final = frozenset(
    {
        "v",
        "case",
        "seq",
        "at",
        "kind",
        "actor",
        "event",
        "payload",
        "from",
        "to",
        "guards",
        "actions",
        "procedure",
        "prev",
        "hash",
    }
)
"""Fields every sealed record has."""

OPTIONAL_FIELDS: Final = frozenset(
    {"idempotency_key", "reason", "rule_set", "data", "unit", "engine", "signature"}
)
"""``rule_set``, ``data`` in ``case.opened`` only; ``unit`` (a non-empty unit path) optional
in ``case.opened`` only; ``reason`` required in ``event.refused``,
optional in ``timer.fired`` (a timer whose transition could not run), absent elsewhere.
``engine`` (which yishi and which action/guard registry wrote the record) and
``signature`` (an Ed25519 signature by the writer's key) may be on any record; logs
written before they existed lack them and still verify."""

ALL_FIELDS: Final = REQUIRED_FIELDS | OPTIONAL_FIELDS

HEX64: Final = re.compile(r"[0-9a-f]{64}")
RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)

_UNSEALED_REQUIRED: Final = REQUIRED_FIELDS - {"hash"}
_ACTOR_KEYS: Final = frozenset({"id", "roles"})
_PROCEDURE_KEYS: Final = frozenset({"id", "version", "sha256"})
_REASON_KEYS: Final = frozenset({"code", "message", "details"})
_ENGINE_KEYS: Final = frozenset({"yishi", "registry"})
_SIGNATURE_KEYS: Final = frozenset({"key", "ed25519"})
_STR_TYPE: Final = frozenset({str})
_DICT_TYPE: Final = frozenset({dict})
_HEX_DIGITS: Final = "0123456789abcdef"
_ONLY_IN: Final = {"rule_set": "case.opened", "data": "case.opened", "reason": "event.refused"}

Problem = tuple[str, str]
"""A failure kind (``missing-field``, ``bad-field-type``, …) and a message."""


def record_problem(record: Mapping[str, Any], *, sealed: bool = True) -> Problem | None:
    """The first thing wrong with the fields of ``record``, or None.

    Args:
        record: an audit record; with ``sealed`` it must carry ``hash`` (its value
            is checked too, when present, either way).
        sealed: whether ``hash`` is required.

    Returns:
        ``(kind, message)`` with kind one of ``unknown-version``, ``missing-field``,
        ``unknown-field``, ``bad-field-type``, ``bad-first-record``; or None.
    """
    # One boolean expression answers the common case ~3x faster than the
    # field-by-field walk, which then runs only to name the problem.
    if _looks_valid(record, sealed):
        return None
    return _first_problem(record, sealed=sealed)


def _is_hex64(value: object) -> bool:
    return type(value) is str and len(value) == 64 and not value.strip(_HEX_DIGITS)


def _looks_valid(record: Mapping[str, Any], sealed: bool) -> bool:
    """True only if ``_first_problem`` would find nothing (a test holds the two equal)."""
    try:
        keys = record.keys()
        kind = record["kind"]
        seq = record["seq"]
        at = record["at"]
        actor = record["actor"]
        procedure = record["procedure"]
        guards = record["guards"]
        actions = record["actions"]
        opened = kind == "case.opened"
        # The optional fields present, counted: with the required ones this pins the key set
        # without a second subset test.
        optional = (
            ("idempotency_key" in keys)
            + ("reason" in keys)
            + ("rule_set" in keys)
            + ("data" in keys)
            + ("unit" in keys)
            + ("engine" in keys)
            + ("signature" in keys)
            + ("hash" in keys and not sealed)
        )
        return bool(
            record["v"] == FORMAT_VERSION
            and type(record["v"]) is int
            and len(keys) == len(_UNSEALED_REQUIRED) + sealed + optional
            and (REQUIRED_FIELDS if sealed else _UNSEALED_REQUIRED) <= keys
            and kind in KINDS
            and type(record["case"]) is str
            and record["case"]
            and type(seq) is int
            and seq >= 1
            and opened == (seq == 1)
            and type(at) is str
            and RFC3339.fullmatch(at)
            and type(record["prev"]) is str
            and HEX64.fullmatch(record["prev"])
            and (
                "hash" not in keys
                or (type(record["hash"]) is str and HEX64.fullmatch(record["hash"]))
            )
            and type(actor) is dict
            and actor.keys() == _ACTOR_KEYS
            and type(actor["id"]) is str
            and type(actor["roles"]) is list
            and _all_str(actor["roles"])
            and type(procedure) is dict
            and procedure.keys() == _PROCEDURE_KEYS
            and _all_str(procedure.values())
            and type(record["payload"]) is dict
            and type(record["to"]) is str
            and type(guards) is list
            and (not guards or set(map(type, guards)) == _DICT_TYPE)
            and type(actions) is list
            and (not actions or set(map(type, actions)) == _DICT_TYPE)
            and (
                (record["event"] is None and record["from"] is None)
                if opened
                else (type(record["event"]) is str and type(record["from"]) is str)
            )
            and (
                type(record.get("rule_set")) is dict and type(record.get("data")) is dict
                if opened
                else "rule_set" not in keys and "data" not in keys
            )
            and (
                _reason_ok(record.get("reason"))
                if kind == "event.refused" or (kind == "timer.fired" and "reason" in keys)
                else "reason" not in keys
            )
            and ("idempotency_key" not in keys or type(record["idempotency_key"]) is str)
            and ("unit" not in keys or (opened and type(record["unit"]) is str and record["unit"]))
            and ("engine" not in keys or _pair_ok(record["engine"], _ENGINE_KEYS))
            and ("signature" not in keys or _pair_ok(record["signature"], _SIGNATURE_KEYS))
        )
    except (KeyError, TypeError, AttributeError):
        return False


def _all_str(values: Iterable[object]) -> bool:
    """Whether every value is a ``str`` (``join`` checks in C)."""
    try:
        "".join(values)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def _pair_ok(value: object, keys: frozenset[str]) -> bool:
    """``engine`` and ``signature``: an object of exactly ``keys``, all strings."""
    return type(value) is dict and value.keys() == keys and _all_str(value.values())


def _reason_ok(reason: object) -> bool:
    return (
        type(reason) is dict
        and reason.keys() == _REASON_KEYS
        and type(reason["code"]) is str
        and type(reason["message"]) is str
        and type(reason["details"]) is list
    )


def _first_problem(record: Mapping[str, Any], *, sealed: bool) -> Problem | None:
    """The first thing wrong with the fields of ``record``, or None (the readable check).

    Args:
        record: an audit record; with ``sealed`` it must carry ``hash`` (its value
            is checked too, when present, either way).
        sealed: whether ``hash`` is required.

    Returns:
        ``(kind, message)`` with kind one of ``unknown-version``, ``missing-field``,
        ``unknown-field``, ``bad-field-type``, ``bad-first-record``; or None.
    """
    version = record.get("v")
    if version != FORMAT_VERSION or type(version) is not int:
        if "v" not in record:
            return "missing-field", "missing field 'v' (the format version)"
        return "unknown-version", (
            f"unknown format version {version!r}; this yishi reads version {FORMAT_VERSION}"
        )
    keys = record.keys()
    required = REQUIRED_FIELDS if sealed else _UNSEALED_REQUIRED
    if not required <= keys:
        missing = ", ".join(repr(k) for k in sorted(required - keys))
        return "missing-field", f"missing field(s) {missing}"
    if not keys <= ALL_FIELDS:
        extra = ", ".join(repr(k) for k in sorted(keys - ALL_FIELDS))
        return "unknown-field", f"unknown field(s) {extra} (format version 1 has no such field)"

    kind = record["kind"]
    if kind not in KINDS:
        return _bad("kind", f"one of {', '.join(sorted(KINDS))}", kind)
    case = record["case"]
    if type(case) is not str or not case:
        return _bad("case", "a non-empty string", case)
    seq = record["seq"]
    if type(seq) is not int or seq < 1:
        return _bad("seq", "an integer ≥ 1", seq)
    at = record["at"]
    if type(at) is not str or not RFC3339.fullmatch(at):
        return _bad("at", 'an RFC 3339 time with an offset, e.g. "2024-03-01T09:00:00+08:00"', at)
    prev = record["prev"]
    if type(prev) is not str or not HEX64.fullmatch(prev):
        return _bad("prev", "64 lower-case hex digits", prev)
    if "hash" in keys:
        digest = record["hash"]
        if type(digest) is not str or not HEX64.fullmatch(digest):
            return _bad("hash", "64 lower-case hex digits", digest)
    actor = record["actor"]
    if (
        type(actor) is not dict
        or actor.keys() != {"id", "roles"}
        or type(actor["id"]) is not str
        or type(actor["roles"]) is not list
        or not all(isinstance(role, str) for role in actor["roles"])
    ):
        return _bad("actor", '{"id": string, "roles": [string, …]}', actor)
    procedure = record["procedure"]
    if (
        type(procedure) is not dict
        or procedure.keys() != {"id", "version", "sha256"}
        or not all(isinstance(value, str) for value in procedure.values())
    ):
        return _bad("procedure", '{"id", "version", "sha256"} strings', procedure)
    if type(record["payload"]) is not dict:
        return _bad("payload", "an object", record["payload"])
    if type(record["to"]) is not str:
        return _bad("to", "a state id (string)", record["to"])
    for name in ("guards", "actions"):
        items = record[name]
        if type(items) is not list or not all(type(item) is dict for item in items):
            return _bad(name, "a list of objects", items)

    opened = kind == "case.opened"
    for name in ("event", "from"):
        value = record[name]
        if opened and value is not None:
            return _bad(name, "null in a case.opened record", value)
        if not opened and type(value) is not str:
            return _bad(name, "a string", value)
    for name, only in _ONLY_IN.items():
        if name == "reason" and kind == "timer.fired":
            continue  # a refused timer is recorded as timer.fired with its reason
        if (name in keys) != (kind == only):
            where = "required" if kind == only else "not allowed"
            return "missing-field" if kind == only else "unknown-field", (
                f"field {name!r} is {where} in a {kind} record (it belongs to {only} only)"
            )
    for name in ("rule_set", "data", "reason"):
        if name in keys and type(record[name]) is not dict:
            return _bad(name, "an object", record[name])
    reason = record.get("reason")
    if reason is not None and (
        reason.keys() != {"code", "message", "details"}
        or type(reason["code"]) is not str
        or type(reason["message"]) is not str
        or type(reason["details"]) is not list
    ):
        return _bad("reason", '{"code": string, "message": string, "details": [...]}', reason)
    if "idempotency_key" in keys and type(record["idempotency_key"]) is not str:
        return _bad("idempotency_key", "a string", record["idempotency_key"])
    if "unit" in keys:
        if not opened:
            return "unknown-field", (
                f"field 'unit' is not allowed in a {kind} record (it belongs to case.opened only)"
            )
        if type(record["unit"]) is not str or not record["unit"]:
            return _bad("unit", "a non-empty unit path such as 县/镇/村", record["unit"])
    if "engine" in keys and not _pair_ok(record["engine"], _ENGINE_KEYS):
        return _bad("engine", '{"yishi": version, "registry": digest} strings', record["engine"])
    if "signature" in keys and not _pair_ok(record["signature"], _SIGNATURE_KEYS):
        expected = '{"key": fingerprint, "ed25519": base64} strings'
        return _bad("signature", expected, record["signature"])
    if opened != (seq == 1):
        return "bad-first-record", (
            "a case's first record is seq 1 and is its only case.opened record; "
            f"found {kind} at seq {seq}"
        )
    return None


def _bad(name: str, expected: str, found: object) -> Problem:
    shown = repr(found)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return "bad-field-type", f"field {name!r} must be {expected}; found {shown}"
