"""Plumbing the ``yishi case …`` and ``yishi worker`` commands share.

Every such command turns an expected failure (unknown case, conflict, corrupt or
newer database, wrong URL, unreachable server, bad JSON or time on the command line)
into one line on stderr and exit status 1, never a traceback; runs on an engine over
the store ``--db`` names; and reads ``--data``/``--payload`` JSON and ``--at`` times
the same way. Only the standard library is imported at module level: ``yishi --help``
must stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from engine.runtime.engine import Engine


class UsageProblem(Exception):
    """A command-line value cannot be used (bad JSON, bad time); printed as one line."""


def fail(message: str) -> int:
    """Print ``yishi: error: message`` on stderr; return exit status 1."""
    print(f"yishi: error: {message}", file=sys.stderr)
    return 1


def guarded(run: Callable[[], int]) -> int:
    """Run a command body, turning every expected failure into one line and status 1."""
    from engine.errors import EngineError, ProcedureInvalid, SourceUnreadable

    try:
        return run()
    except ProcedureInvalid as exc:
        # A procedure named by -p: its first located problem, as validate prints it.
        errors = [p for p in exc.problems if p.severity == "error"] or exc.problems
        more = (
            f" (and {len(errors) - 1} more; yishi validate lists them)" if len(errors) > 1 else ""
        )
        return fail(f"{errors[0]}{more}")
    except SourceUnreadable as exc:
        return fail(f"{exc.location}: {exc.reason}")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}")
    except (EngineError, UsageProblem) as exc:
        return fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))


@contextmanager
def engine_on(db: str | None, signing_key: Path | None = None) -> Iterator[Engine]:
    """An engine on the store ``db`` names (signing with the key file, if given), closed
    afterwards. The key is read before the store is opened: a bad key changes nothing."""
    from engine.audit.signing import load_signer
    from engine.runtime.engine import Engine

    signer = load_signer(signing_key) if signing_key is not None else None
    with Engine.from_url(db, signer=signer) as engine:
        yield engine


MAX_JSON_DEPTH = 64
"""How deeply ``--data``/``--payload`` JSON may nest: as deep as a procedure's YAML may."""

MAX_JSON_BYTES = 8 * 1024 * 1024
"""The largest ``@file`` read for ``--data``/``--payload`` (far above any real payload)."""

IDEMPOTENCY_KEY = r"[A-Za-z0-9._:-]{1,128}"
"""What ``--key`` may be: the pattern HTTP's ``Idempotency-Key`` header takes."""

MAX_ACTOR_ID = 128
"""The longest ``--actor`` id: as long as a token file's actor may be."""


def read_json(text: str | None, what: str) -> dict[str, Any]:
    """``--data``/``--payload``: inline JSON, or ``@file`` holding JSON.

    Raises:
        UsageProblem: when it is not a JSON object, nests deeper than ``MAX_JSON_DEPTH``,
            or the file cannot be read (missing, not a regular file, too big, not UTF-8).
    """
    if text is None:
        return {}
    source = text
    if text.startswith("@"):
        source = _read_json_file(text[1:], what)
    try:
        value = json.loads(source, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise UsageProblem(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise UsageProblem(f"{what} nests more than {MAX_JSON_DEPTH} levels deep") from exc
    if not isinstance(value, dict):
        raise UsageProblem(f"{what} must be a JSON object, e.g. '{{\"present\": 4}}'")
    if _depth(value) > MAX_JSON_DEPTH:
        raise UsageProblem(f"{what} nests more than {MAX_JSON_DEPTH} levels deep")
    return value


def _not_json(word: str) -> Any:
    """Python's reader accepts NaN and Infinity; JSON (and an audit record) has neither."""
    raise UsageProblem(f"{word} is not a JSON value; audit records hold exact numbers only")


def _read_json_file(name: str, what: str) -> str:
    from engine.regular_file import read_regular

    try:
        raw = read_regular(name, MAX_JSON_BYTES)
    except OSError as exc:
        raise UsageProblem(f"{what}: cannot read {name}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_JSON_BYTES:
        raise UsageProblem(f"{what}: {name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageProblem(
            f"{what}: {name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from exc


def _depth(value: Any) -> int:
    """How deeply JSON containers nest in ``value`` (iterative: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_actor(actor: str | None, roles: list[str] | None) -> None:
    """Refuse an ``--actor`` or ``--role`` HTTP would refuse: empty, blank or over-long.

    Raises:
        UsageProblem: naming the option and what it needs.
    """
    if actor is not None and (not actor.strip() or len(actor) > MAX_ACTOR_ID):
        raise UsageProblem(
            f"--actor must be a non-empty id of at most {MAX_ACTOR_ID} characters, not {actor!r}"
        )
    for role in roles or ():
        if not role.strip():
            raise UsageProblem("--role must be a role name, not an empty text")


def check_key(key: str | None) -> None:
    """Refuse a ``--key`` HTTP's ``Idempotency-Key`` header would refuse.

    Raises:
        UsageProblem: when it is empty, too long or has other characters.
    """
    import re

    if key is not None and re.fullmatch(IDEMPOTENCY_KEY, key) is None:
        raise UsageProblem(
            f"--key must be 1 to 128 of A-Z a-z 0-9 . _ : - (as HTTP's Idempotency-Key), "
            f"not {key[:40]!r}"
        )


def parse_at(text: str | None) -> Any:
    """``--at`` as a datetime (None when omitted).

    Raises:
        UsageProblem: when it is not an RFC 3339 time with an offset.
    """
    if text is None:
        return None
    from datetime import UTC

    from engine.runtime.clock import parse_time

    try:
        value = parse_time(text)
        # The engine records instants in UTC: one that has no UTC form (the last hours
        # of year 9999 west of Greenwich) is refused here, not deep in the engine.
        value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise UsageProblem(f"--at {text!r}: {exc}") from exc
    return value


__all__ = [
    "IDEMPOTENCY_KEY",
    "MAX_ACTOR_ID",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "UsageProblem",
    "check_actor",
    "check_key",
    "engine_on",
    "fail",
    "guarded",
    "parse_at",
    "read_json",
]
