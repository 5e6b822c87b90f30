"""``yishi serve``: open the store, read the token file, and run the API under uvicorn.

Uvicorn's limits are set here, so a slow or greedy client cannot exhaust the server:

* ``limit_concurrency`` (default 64): connections plus requests in flight beyond it
  are answered 503 at once instead of queueing;
* ``timeout_keep_alive`` (5 s): an idle keep-alive connection is closed;
* ``h11_max_incomplete_event_size`` (64 KiB): a request line and headers larger
  than this are refused;
* ``backlog`` (256): pending TCP connections;
* and, in the application, each body is at most 1 MiB and must arrive within
  15 s (``engine.server.limits``).

The engine's calls are synchronous; FastAPI runs them in its thread pool (40
threads), one ``Engine`` per process. Tokens are never logged: uvicorn's access
log prints the request line only, and no message of ours includes a header.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError

DEFAULT_LIMIT_CONCURRENCY = 64
DEFAULT_KEEP_ALIVE = 5
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeOptions:
    """What ``yishi serve`` was asked for."""

    db: str | None
    host: str
    port: int
    tokens: Path
    limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY
    timeout_keep_alive: int = DEFAULT_KEEP_ALIVE
    access_log: bool = True


def run_serve(options: ServeOptions) -> int:
    """Serve until interrupted.

    Args:
        options: the store URL, address, token file and limits.

    Returns:
        0 after a clean shutdown; 1 when the store or token file cannot be used
        (one line on stderr).
    """
    import uvicorn

    from engine.runtime.engine import Engine
    from engine.server.app import create_app
    from engine.server.auth import load_tokens
    from engine.storage.url import open_store

    try:
        tokens = load_tokens(options.tokens)
        store = open_store(options.db)
    except EngineError as exc:
        print(f"yishi: error: {exc}", file=sys.stderr)
        return 1
    try:
        app = create_app(Engine(store=store), tokens)
        config = uvicorn.Config(
            app,
            host=options.host,
            port=options.port,
            limit_concurrency=options.limit_concurrency,
            timeout_keep_alive=options.timeout_keep_alive,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            backlog=256,
            access_log=options.access_log,
            server_header=False,
            log_level="info",
        )
        uvicorn.Server(config).run()
    finally:
        store.close()
    return 0
