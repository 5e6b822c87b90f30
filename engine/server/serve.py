"""``yishi serve``: open the store, read the token file, and run the API under uvicorn.

The limits are set here, so neither a slow nor a greedy client can exhaust the server:

* ``header_timeout`` (10 s): a connection must send a whole request head this
  soon after it opens (or after a later request's first byte), else it is
  closed — uvicorn alone keeps a silent connection for ever
  (``engine.server.connections``);
* ``timeout_keep_alive`` (5 s): an idle kept-alive connection is closed;
* ``body_timeout`` (15 s) and 1 MiB: the most time and bytes for a body
  (``engine.server.limits.BodyLimit``);
* ``limit_concurrency`` (64): requests in flight, counted once their body has
  arrived; beyond it new requests get 503 ``overloaded`` at once. Idle or slow
  connections hold no slot: they are bounded by the timeouts above, and beyond
  ``max_connections`` (1000) open sockets the one idle the longest is closed;
* ``MAX_HEADER_BYTES`` (64 KiB): a larger request head is refused (400);
* ``backlog`` (256): pending TCP connections.

The engine's calls are synchronous; FastAPI runs them in its thread pool (40
threads), and ``engine.server.fast_fire`` event attempts in its own (40), one
``Engine`` per process; a well-formed event attempt is taken below ASGI, by the
protocol (``engine.server.lean_protocol``), within the same limits. The HTTP
parser is uvicorn's httptools (C). An
unexpected failure is logged once, in a bounded entry (``ContainFailures``
keeps uvicorn from logging the whole traceback again). Tokens are never
logged: the access log shows a query string's parameter names but never their
values, in case a client puts a token there, and no message of ours includes a
header.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl, quote

from engine.errors import EngineError

DEFAULT_LIMIT_CONCURRENCY = 64
DEFAULT_KEEP_ALIVE = 5
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 15.0
DEFAULT_MAX_CONNECTIONS = 1000
MAX_HEADER_BYTES = 64 * 1024
MAX_LOGGED_TARGET = 512
"""Characters of a request target the access log keeps."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeOptions:
    """What ``yishi serve`` was asked for."""

    db: str | None
    host: str
    port: int
    tokens: Path | None
    limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY
    timeout_keep_alive: int = DEFAULT_KEEP_ALIVE
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    access_log: bool = True
    signing_key: Path | None = None
    """An Ed25519 key file (``yishi keygen``): every record the server writes is signed."""


class QueryRedactor(logging.Filter):
    """Keep query values out of uvicorn's access log, and its lines short.

    A client may send a token as ``?token=…`` by mistake (or to probe); the access
    log then shows ``?token=…`` with the value replaced, so the log never holds it.
    The target is cut to ``MAX_LOGGED_TARGET`` characters.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the target argument of an access record; never drop a record."""
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_target(args[2]), args[3], args[4])
        return True


def redact_target(target: str) -> str:
    """A request target with each query value replaced by ``…``, cut to a bounded length.

    Args:
        target: the path and query string, e.g. ``/cases?after=x&token=y``.

    Returns:
        ``/cases?after=…&token=…``, at most ``MAX_LOGGED_TARGET`` characters.
    """
    path, mark, query = target.partition("?")
    if mark:
        names = [quote(name, safe="") for name, _ in parse_qsl(query, keep_blank_values=True)]
        path += ("?" + "&".join(f"{name}=…" for name in names)) if names else "?…"
    if len(path) > MAX_LOGGED_TARGET:
        path = path[: MAX_LOGGED_TARGET - 1] + "…"
    return path


def run_serve(options: ServeOptions) -> int:
    """Serve until interrupted.

    Args:
        options: the store URL, address, token file and limits.

    Returns:
        0 after a clean shutdown; 1 when the store or token file cannot be used
        (one line on stderr).
    """
    import uvicorn

    from engine.audit.signing import load_signer
    from engine.runtime.engine import Engine
    from engine.server.app import create_app
    from engine.server.auth import load_tokens
    from engine.server.connections import guarded_protocol
    from engine.server.lean_protocol import lean_protocol
    from engine.server.limits import ContainFailures
    from engine.web.local import check_local_host, prepare_local, signin_url

    sessions = None
    try:
        if options.tokens is None:
            check_local_host(options.host)
        else:
            tokens = load_tokens(options.tokens)
        signer = load_signer(options.signing_key) if options.signing_key is not None else None
        engine = Engine.from_url(options.db, signer=signer)
    except EngineError as exc:
        print(f"yishi: error: {exc}", file=sys.stderr)
        return 1
    try:
        if options.tokens is None:
            # No token file: one person on this machine signs in once with a printed link.
            tokens, sessions, once, registered = prepare_local(engine)
            if registered:
                print(f"yishi: registered {len(registered)} bundled procedure(s)", file=sys.stderr)
            url = signin_url(options.host, options.port, once)
            print(f"yishi: no --tokens: local mode. Sign in once at\n    {url}", file=sys.stderr)
        app = create_app(
            engine,
            tokens,
            body_timeout=options.body_timeout,
            in_flight=options.limit_concurrency,
            sessions=sessions,
        )
        # Well-formed event attempts are answered by the protocol, below ASGI.
        lean = app.state.lean
        protocol = partial(lean_protocol, lean) if lean is not None else guarded_protocol
        config = uvicorn.Config(
            ContainFailures(app),
            host=options.host,
            port=options.port,
            http=protocol(
                header_timeout=options.header_timeout,
                max_connections=options.max_connections,
                max_head=MAX_HEADER_BYTES,
            ),
            timeout_keep_alive=options.timeout_keep_alive,
            backlog=256,
            access_log=options.access_log,
            server_header=False,
            log_level="info",
        )
        # uvicorn.Config has configured its loggers by now; the filter applies to them.
        logging.getLogger("uvicorn.access").addFilter(QueryRedactor())
        uvicorn.Server(config).run()
    finally:
        engine.close()
    return 0
