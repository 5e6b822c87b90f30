"""The first run on one machine: ``yishi serve`` without ``--tokens``.

As notebook servers do, the server then listens on the loopback address only,
makes a one-time sign-in token for a local administrator and prints the URL
that spends it. The administrator holds every role the stored (and bundled)
procedures declare, so one person can take a case through every step; any other
address needs a real token file, because a one-time link is no access control
for a network.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from engine.errors import EngineError
from engine.errors import LocalModeRefused as LocalModeRefused
from engine.runtime.engine import Engine
from engine.server.auth import Principal, TokenTable
from engine.web.sessions import SessionTable

LOCAL_ACTOR = "本机管理员"
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


def check_local_host(host: str) -> None:
    """Allow only the loopback address without a token file.

    Raises:
        LocalModeRefused: naming the address and the fix.
    """
    if host in LOCAL_HOSTS:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise LocalModeRefused(
            f"refusing to serve on {host} without --tokens: give a token file "
            "(see docs/embedding.md), or serve on 127.0.0.1 for a one-person first run"
        )


def _bundled_sources() -> list[tuple[str, str]]:
    from importlib.resources import files

    from engine.bundled import procedures_dir

    shipped = Path(str(files("engine").joinpath("_procedures")))
    folder = shipped if shipped.is_dir() else procedures_dir()
    if folder is None:
        return []
    found = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            found.append((path.name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return found


def prepare_local(engine: Engine) -> tuple[TokenTable, SessionTable, str, list[str]]:
    """Make the local administrator and a one-time token for them.

    On a store with no procedure yet, the bundled procedures are registered so the
    first run has something to open.

    Returns:
        An empty token table (the API takes no bearer token in this mode), the
        session table holding the one-time token, the token, and the names of the
        procedures registered now.
    """
    from engine.definition.loader import load_source

    registered = []
    if not engine.procedures():
        for name, text in _bundled_sources():
            try:
                engine.register(load_source(text, name), by=LOCAL_ACTOR)
            except EngineError:
                continue
            registered.append(name)
    roles: set[str] = set()
    for ref in engine.procedures():
        source = engine.procedure_source(ref.sha256)
        if source is None:
            continue
        try:
            roles.update(load_source(source, ref.id).procedure.roles)
        except EngineError:
            continue
    principal = Principal(actor=LOCAL_ACTOR, roles=tuple(sorted(roles)), admin=True)
    sessions = SessionTable()
    token = sessions.add_one_time(principal)
    return TokenTable([]), sessions, token, registered


def signin_url(host: str, port: int, token: str) -> str:
    """The URL that spends the one-time token."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/ui/signin?token={token}"
