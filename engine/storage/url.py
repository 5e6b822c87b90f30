"""Open a store from a URL: ``sqlite:///path.db`` (the default), ``postgresql://…``, ``memory://``.

``sqlite:///yishi.db`` is relative to the working directory and
``sqlite:////var/lib/yishi.db`` absolute (three slashes, then the path). SQLite
takes ``?sync=normal`` (faster; the last acknowledged events may be lost on a
power cut, never on a killed process) and ``?timeout=SECONDS`` (wait for another
process's write lock). With no URL, ``$YISHI_DB`` is used, else ``sqlite:///yishi.db``.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlsplit

from engine.errors import StoreError
from engine.storage.base import Store

DEFAULT_URL = "sqlite:///yishi.db"
"""The store used when neither a URL nor ``$YISHI_DB`` is given."""

ENV_VAR = "YISHI_DB"

_HELP = "use sqlite:///path.db, postgresql://user@host:5432/dbname or memory://"


def default_url() -> str:
    """``$YISHI_DB`` when set and not empty, else ``sqlite:///yishi.db``."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def open_store(url: str | None = None) -> Store:
    """Open (creating or migrating when needed) the store a URL names.

    Args:
        url: the store URL; ``default_url()`` when None.

    Returns:
        A ready store; close it with ``store.close()``.

    Raises:
        StoreError: for a URL that names no store, a file that is not a yishi
            database, a database with a newer schema, or a server that cannot be reached.
    """
    text = default_url() if url is None else url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        hint = f"; did you mean sqlite:///{text}?" if text else ""
        raise StoreError(f"{text!r} is not a store URL: {_HELP}{hint}")
    scheme = scheme.lower()
    try:
        # urlsplit refuses an unclosed IPv6 bracket; .port a port that is not 0-65535.
        urlsplit(text).port  # noqa: B018 - evaluated for its check
    except ValueError as exc:
        raise StoreError(
            f"{_without_password(text)!r} is not a valid URL ({exc}): {_HELP}"
        ) from exc
    if scheme == "memory":
        if rest.strip("/"):
            raise StoreError(f"{text!r}: memory:// takes nothing after it")
        from engine.storage.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        return _sqlite(text)
    if scheme in ("postgresql", "postgres"):
        from engine.storage.postgres import PostgresStore

        return PostgresStore(text)
    raise StoreError(f"{text!r}: unknown store type {scheme!r}: {_HELP}")


def _without_password(url: str) -> str:
    """The URL with anything between ``user:`` and ``@`` hidden, even when it does not parse."""
    return re.sub(r"(://[^/@:]*:)[^@/]*@", r"\1***@", url)


def _sqlite(url: str) -> Store:
    parts = urlsplit(url)
    if parts.netloc:
        raise StoreError(
            f"{url!r}: a SQLite URL has no host; write sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise StoreError(f"{url!r}: no file named; write e.g. sqlite:///yishi.db")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"sync", "timeout"})
    if unknown:
        raise StoreError(f"{url!r}: unknown option(s) {', '.join(unknown)}; known: sync, timeout")
    sync = options.get("sync", "full").lower()
    if sync not in ("full", "normal"):
        raise StoreError(f"{url!r}: sync must be full (the default) or normal, not {sync!r}")
    try:
        timeout = float(options.get("timeout", "30"))
    except ValueError as exc:
        raise StoreError(f"{url!r}: timeout must be a number of seconds") from exc
    if os.path.isdir(path):
        raise StoreError(f"{url!r}: {path} is a directory; name a database file in it")
    from engine.storage.sqlite import SqliteStore

    return SqliteStore(path, sync="full" if sync == "full" else "normal", timeout=timeout)
