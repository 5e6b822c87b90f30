"""The HTTP API (``yishi serve``): a thin FastAPI adapter over the same Python API the CLI uses.

Nothing here is reachable only over HTTP: every endpoint calls ``Engine``,
``Store``, ``check_source``, ``describe_procedure``, ``render``, ``verify_lines``
or ``replay_records``. ``docs/embedding.md`` shows both ways in.

The public names are imported on first use: the workbench (``engine.web``) is
built on this package's modules and the app mounts the workbench, so importing
``engine.server.auth`` must not import the app (no import cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.server.app import create_app
    from engine.server.auth import Principal, TokenFileError, TokenTable, load_tokens, token_hash

__all__ = ["Principal", "TokenFileError", "TokenTable", "create_app", "load_tokens", "token_hash"]

_FROM_AUTH = frozenset({"Principal", "TokenFileError", "TokenTable", "load_tokens", "token_hash"})


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from engine.server.app import create_app

        return create_app
    if name in _FROM_AUTH:
        from engine.server import auth

        return getattr(auth, name)
    raise AttributeError(f"module 'engine.server' has no attribute {name!r}")
