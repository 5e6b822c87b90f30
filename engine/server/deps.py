"""What every endpoint shares: the services (engine, tokens) and the caller.

One ``Engine`` serves the whole process: endpoints are plain ``def`` functions
that FastAPI runs in its thread pool, and the store (not a lock here) makes
concurrent commits safe: a writer that lost the race gets ``Conflict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.runtime.engine import Engine
from engine.server.auth import Principal, TokenTable
from engine.server.problems import ProblemError

MAX_PAGE = 200
"""The largest page ``GET /cases`` returns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The engine and what the API keeps beside it."""

    engine: Engine
    tokens: TokenTable


def services(request: Request) -> Services:
    """The application's services (set by ``create_app``)."""
    found: Services = request.app.state.services
    return found


async def _services(request: Request) -> Services:
    # A coroutine, so FastAPI resolves it on the event loop: a plain ``def``
    # dependency costs every request a round trip through the thread pool.
    return services(request)


_bearer = HTTPBearer(
    auto_error=False,
    description="A token from the server's token file; it names the actor and their roles.",
)


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The caller the bearer token names.

    Raises:
        ProblemError: 401 when there is no bearer token or it is not in the token file.
    """
    if credentials is None:
        raise ProblemError(
            401,
            "unauthenticated",
            "send 'Authorization: Bearer <token>' with a token from the server's token file",
            headers={"WWW-Authenticate": 'Bearer realm="yishi"'},
        )
    who = services(request).tokens.lookup(credentials.credentials)
    if who is None:
        raise ProblemError(
            401,
            "unauthenticated",
            "the bearer token is not in the server's token file",
            headers={"WWW-Authenticate": 'Bearer realm="yishi", error="invalid_token"'},
        )
    request.state.principal = who  # for the log line of a refusal at the door
    return who


Caller = Annotated[Principal, Depends(principal)]
Deps = Annotated[Services, Depends(_services)]
