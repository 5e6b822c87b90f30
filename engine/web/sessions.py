"""Browser sessions: a bearer token exchanged once for a random session id in a cookie.

The token itself never goes into a cookie: the server keeps ``session id → principal``
in memory and the browser holds only the id (``HttpOnly``, ``SameSite=Strict``), so a
stolen cookie dies with the session and a restart signs everyone out. Each session
carries its own CSRF secret, which every form echoes in a hidden field.

``who_holds`` is the one place the workbench turns a token into a principal; when
the token table changes shape, only it changes.

One-time tokens serve the local first run (``yishi serve`` without ``--tokens``): a
token printed in the sign-in URL that can be exchanged exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from engine.server.auth import Principal, TokenTable

SESSION_COOKIE = "yishi_session"
PRE_COOKIE = "yishi_signin"
"""Holds the sign-in form's CSRF value before there is a session (double submit)."""
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
"""The oldest session is dropped beyond this, so the table stays bounded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A signed-in browser: who it is, its CSRF secret, and when it expires (monotonic)."""

    id: str
    principal: Principal
    csrf: str
    expires: float


def who_holds(tokens: TokenTable, token: str) -> Principal | None:
    """The principal a token names, by the same lookup the API's bearer check uses."""
    return tokens.lookup(token)


def same_secret(given: str, expected: str) -> bool:
    """Compare two secrets in constant time (``False`` for an empty one)."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class SessionTable:
    """Sessions by id (in memory, bounded, expiring) and the one-time sign-in tokens."""

    def __init__(self, *, seconds: int = SESSION_SECONDS, size: int = MAX_SESSIONS) -> None:
        self._seconds = seconds
        self._size = size
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._one_time: dict[bytes, Principal] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal) -> Session:
        """A new session for ``principal`` (a fresh id and CSRF secret)."""
        session = Session(
            id=secrets.token_urlsafe(32),
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            expires=time.monotonic() + self._seconds,
        )
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self._size:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown or expired)."""
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is not None and found.expires < time.monotonic():
                del self._sessions[session_id]
                return None
            return found

    def close(self, session_id: str | None) -> None:
        """End a session (sign-out); nothing happens for an unknown id."""
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def add_one_time(self, principal: Principal) -> str:
        """A new token that signs ``principal`` in once; only its hash is kept."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._one_time[hashlib.sha256(token.encode()).digest()] = principal
        return token

    def use_one_time(self, token: str) -> Principal | None:
        """The principal of a one-time token, which is spent by this call; None if unknown."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            for known in list(self._one_time):
                if hmac.compare_digest(known, digest):
                    return self._one_time.pop(known)
        return None
