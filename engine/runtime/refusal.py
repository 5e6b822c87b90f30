"""What a refused record keeps of a payload: all of it when small, else a digest and the paths.

A refusal is written into the case's permanent chain, so whatever it keeps is kept for
ever. Three payloads must not be kept whole: one larger than ``REFUSED_PAYLOAD_LIMIT``
(anyone allowed to try an event could otherwise append a megabyte per request), one
refused for breaking ballot secrecy (keeping it would record the very identity beside
the choice that the refusal is about), and one no record can hold (``2.0``, ``NaN``, an
integer beyond 2**53 - 1, a lone surrogate: sealing it would fail). For those the record
keeps a *withheld form*::

    {"$withheld": {"why": "too-large" | "secret-ballot" | "not-exact", "code": <reason code>,
                   "sha256": <hex of the payload's canonical JSON>, "bytes": <its size>,
                   "paths": [<violation paths>, …]}}

and the reason is rebuilt from that form alone, so ``replay`` — which re-runs every
record from its recorded inputs — reaches the very same refusal from it. Whoever holds
the original payload can prove it was the one refused by its sha256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from engine.audit.canonical import canonical_bytes
from engine.runtime.types import Reason

REFUSED_PAYLOAD_LIMIT: Final = 4096
"""Bytes of canonical JSON up to which a refused record keeps the payload itself."""

WITHHELD: Final = "$withheld"
MAX_PATHS: Final = 20
MAX_PATH_CHARS: Final = 200
_FORM_KEYS: Final = frozenset({"why", "code", "sha256", "bytes", "paths"})
_WHY_WORDS: Final = {
    "too-large": "larger than the {limit} bytes a refusal keeps",
    "secret-ballot": "refused for breaking ballot secrecy",
    "not-exact": "it holds a value no record can hold exactly (a float, NaN, an integer "
    "beyond 2**53 - 1, a lone surrogate)",
}

Why = Literal["too-large", "secret-ballot", "not-exact"]


def _encoded(payload: Mapping[str, Any]) -> bytes:
    try:
        return canonical_bytes(dict(payload))
    except (TypeError, ValueError):
        # Not sealable as it stands (a float, say): digest a faithful repr instead.
        return repr(payload).encode("utf-8", "backslashreplace")


def payload_sha256(payload: Mapping[str, Any]) -> str:
    """The hex sha256 a withheld form gives ``payload``: of its canonical JSON when it has
    one, else of a faithful repr (what ``withheld_form`` records as ``sha256``)."""
    return hashlib.sha256(_encoded(payload)).hexdigest()


def withheld_form(
    payload: Mapping[str, Any], *, why: Why, code: str, paths: Sequence[str]
) -> dict[str, Any]:
    """The withheld form of ``payload``: its digest, size, the reason code and the paths."""
    encoded = _encoded(payload)
    kept = sorted({str(p)[:MAX_PATH_CHARS] for p in paths})[:MAX_PATHS]
    return {
        WITHHELD: {
            "why": why,
            "code": code,
            "sha256": hashlib.sha256(encoded).hexdigest(),
            "bytes": len(encoded),
            "paths": kept,
        }
    }


def read_withheld(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The inner form when ``payload`` is exactly a well-formed withheld form, else None."""
    if len(payload) != 1 or WITHHELD not in payload:  # every event asks: no set built
        return None
    form = payload[WITHHELD]
    if not isinstance(form, Mapping) or set(form) != _FORM_KEYS:
        return None
    paths = form["paths"]
    size = form["bytes"]
    ok = (
        form["why"] in _WHY_WORDS
        and isinstance(form["code"], str)
        and len(form["code"]) <= 40
        and isinstance(form["sha256"], str)
        and len(form["sha256"]) == 64
        and isinstance(size, int)
        and not isinstance(size, bool)
        and isinstance(paths, list)
        and len(paths) <= MAX_PATHS
        and all(isinstance(p, str) and len(p) <= MAX_PATH_CHARS for p in paths)
    )
    return dict(form) if ok else None


def withheld_reason(event: str, form: Mapping[str, Any]) -> Reason:
    """The refusal a withheld form stands for, built from the form alone (so replay agrees)."""
    why = _WHY_WORDS[str(form["why"])].format(limit=REFUSED_PAYLOAD_LIMIT)
    paths = [str(p) for p in form["paths"]]
    where = f" at {', '.join(paths)}" if paths else ""
    return Reason(
        code=str(form["code"]),
        message=(
            f"the payload of {event} was refused{where} and is not kept: {why}; "
            f"{form['bytes']} bytes, sha256 {form['sha256']}"
        ),
        details=tuple(paths),
    )


def kept_payload(
    event: str, payload: Mapping[str, Any], reason: Reason
) -> tuple[dict[str, Any], Reason]:
    """What a refused record keeps of ``payload``, and the reason it records.

    The payload itself when its canonical JSON fits ``REFUSED_PAYLOAD_LIMIT``; else its
    withheld form, with the reason rebuilt from that form (the violation paths kept, the
    messages, which may quote the payload, dropped).
    """
    plain = dict(payload)
    if read_withheld(plain) is not None:
        return plain, reason
    try:
        size = len(canonical_bytes(plain))
    except (TypeError, ValueError, RecursionError):
        why: Why = "not-exact"  # no record can hold it, whatever its size
    else:
        if size <= REFUSED_PAYLOAD_LIMIT:
            return plain, reason
        why = "too-large"
    paths = [str(d["path"]) for d in reason.details if isinstance(d, Mapping) and "path" in d]
    form = withheld_form(plain, why=why, code=reason.code, paths=paths)
    return form, withheld_reason(event, form[WITHHELD])


__all__ = [
    "REFUSED_PAYLOAD_LIMIT",
    "WITHHELD",
    "kept_payload",
    "payload_sha256",
    "read_withheld",
    "withheld_form",
    "withheld_reason",
]
