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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.runtime.engine import Engine


class UsageProblem(Exception):
    """A command-line value cannot be used (bad JSON, bad time); printed as one line."""


def fail(message: str) -> int:
    """Print ``yishi: error: message`` on stderr; return exit status 1."""
    print(f"yishi: error: {message}", file=sys.stderr)
    return 1


def guarded(run: Callable[[], int]) -> int:
    """Run a command body, turning every expected failure into one line and status 1."""
    from engine.errors import EngineError

    try:
        return run()
    except (EngineError, UsageProblem, OSError) as exc:
        return fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))


@contextmanager
def engine_on(db: str | None, signing_key: Path | None = None) -> Iterator[Engine]:
    """An engine on the store ``db`` names (signing with the key file, if given), closed
    afterwards. The key is read before the store is opened: a bad key changes nothing."""
    from engine.audit.signing import load_signer
    from engine.runtime.engine import Engine
    from engine.storage.url import open_store

    signer = load_signer(signing_key) if signing_key is not None else None
    store = open_store(db)
    try:
        yield Engine(store=store, signer=signer)
    finally:
        store.close()


def read_json(text: str | None, what: str) -> dict[str, Any]:
    """``--data``/``--payload``: inline JSON, or ``@file`` holding JSON.

    Raises:
        UsageProblem: when it is not a JSON object or the file cannot be read.
    """
    if text is None:
        return {}
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"{what}: cannot read {text[1:]}: {exc.strerror}") from exc
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise UsageProblem(f"{what} must be a JSON object, e.g. '{{\"present\": 4}}'")
    return value


def parse_at(text: str | None) -> Any:
    """``--at`` as a datetime (None when omitted).

    Raises:
        UsageProblem: when it is not an RFC 3339 time with an offset.
    """
    if text is None:
        return None
    from engine.runtime.clock import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageProblem(f"--at {text!r}: {exc}") from exc


__all__ = ["UsageProblem", "engine_on", "fail", "guarded", "parse_at", "read_json"]
