"""The HTTP API (``yishi serve``): a thin FastAPI adapter over the same Python API the CLI uses.

Nothing here is reachable only over HTTP: every endpoint calls ``Engine``,
``Store``, ``check_source``, ``describe_procedure``, ``render``, ``verify_lines``
or ``replay_records``. ``docs/embedding.md`` shows both ways in.
"""

from __future__ import annotations

from engine.server.app import create_app
from engine.server.auth import Principal, TokenFileError, TokenTable, load_tokens, token_hash

__all__ = ["Principal", "TokenFileError", "TokenTable", "create_app", "load_tokens", "token_hash"]
