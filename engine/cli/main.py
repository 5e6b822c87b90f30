"""The ``yishi`` command line: one small module per command, imported on use.

``yishi --help`` must start fast, so this module imports only typer; each
command imports what it needs (CEL, jsonschema, rich) when it runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="yishi",
    help="yishi (议事): run governance procedures as audited state machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _configure(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log engine activity to stderr.")
    ] = 0,
) -> None:
    """Configure logging for the command line (the library never does this itself)."""
    if verbose:
        from engine.cli.logging_setup import configure_logging

        configure_logging(verbose)


Paths = Annotated[list[Path], typer.Argument(help="Procedure files (YAML).", show_default=False)]
ProcPath = Annotated[Path, typer.Argument(help="A procedure file (YAML).", show_default=False)]


@app.command()
def validate(
    paths: Paths,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check procedure files; print every problem as file:line:col: path: message."""
    from engine.cli.validate_cmd import run_validate

    raise typer.Exit(run_validate(paths, strict=strict))


@app.command()
def describe(path: ProcPath) -> None:
    """Describe a procedure in plain words: states, events, roles, payloads and guards."""
    from engine.cli.describe_cmd import run_describe

    raise typer.Exit(run_describe(path))


@app.command()
def graph(
    path: ProcPath,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="mermaid or dot.", show_default=True)
    ] = "mermaid",
) -> None:
    """Draw a procedure as a Mermaid or Graphviz diagram (ASCII ids, Chinese labels)."""
    from engine.cli.graph_cmd import run_graph

    raise typer.Exit(run_graph(path, fmt))


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="A scenario file (YAML).", show_default=False)],
    audit: Annotated[
        Path | None, typer.Option("--audit", help="Write the audit log (JSONL) here.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store the case here (sqlite:///x.db, postgresql://…)."),
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="Sign every record with this key (yishi keygen)."),
    ] = None,
) -> None:
    """Run a scenario through its procedure, print each step and check its expectations."""
    from engine.cli.run_cmd import run_scenario_command

    raise typer.Exit(run_scenario_command(scenario, audit=audit, db=db, signing_key=signing_key))


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="An audit log (JSONL).", show_default=False)],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Require every case signed by this key (PEM)."),
    ] = None,
    since: Annotated[
        list[str] | None,
        typer.Option(
            "--since", help="A kept head CASE:SEQ:HASH, or a file of them, that must still hold."
        ),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="A published checkpoint file whose heads must hold."),
    ] = None,
) -> None:
    """Check every hash chain in an audit log; exit 1 naming the first bad case and seq.
    Prints each case's head (CASE:SEQ:HASH) to keep for the next check."""
    from engine.cli.verify_cmd import run_verify

    raise typer.Exit(run_verify(path, public_key=public_key, since=since, checkpoints=checkpoint))


@app.command()
def keygen(
    path: Annotated[
        Path, typer.Argument(help="Where the private key goes (PATH.pub gets the public key).")
    ],
) -> None:
    """Create an Ed25519 signing key: keep it away from the database; give auditors PATH.pub."""
    from engine.cli.keys_cmd import run_keygen

    raise typer.Exit(run_keygen(path))


@app.command("checkpoint")
def checkpoint_command(
    *,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: $YISHI_DB, else sqlite:///yishi.db)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the checkpoint here (else stdout).")
    ] = None,
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Sign the checkpoint with this key.")
    ] = None,
) -> None:
    """Export every case head of a store as one checkpoint file (with its digest) to publish."""
    from engine.cli.keys_cmd import run_checkpoint

    raise typer.Exit(run_checkpoint(db, out=out, signing_key=signing_key))


@app.command()
def replay(
    path: Annotated[Path, typer.Argument(help="An audit log (JSONL).", show_default=False)],
    procedure: Annotated[
        list[Path] | None,
        typer.Option("--procedure", "-p", help="Procedure files to find versions in."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Show each case at this seq or RFC 3339 time.")
    ] = None,
    under: Annotated[
        Path | None,
        typer.Option("--under", help="What if: re-execute the inputs under this procedure."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --under: print JSON.")] = False,
) -> None:
    """Re-execute every recorded attempt and report the first divergence; with --under,
    report each seq whose outcome another procedure version would change."""
    from engine.cli.replay_cmd import run_replay, run_whatif

    if under is not None:
        raise typer.Exit(run_whatif(path, under, as_json=as_json))
    raise typer.Exit(run_replay(path, procedure or [], as_of=as_of))


@app.command()
def document(
    case_id: Annotated[str, typer.Argument(help="The case id.", show_default=False)],
    *,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: $YISHI_DB, else sqlite:///yishi.db)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The document's name (see --list).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="html or pdf (A4).")] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", help="The file to write (default: stdout).")
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="List the case's documents and which are ready.")
    ] = False,
    procedures: Annotated[
        list[Path] | None,
        typer.Option("--procedures", help="Folders holding the procedure file and templates."),
    ] = None,
) -> None:
    """Produce an official document of a case (results report, notice, minutes) from its audit."""
    from engine.cli.document_cmd import run_document

    raise typer.Exit(
        run_document(
            case_id,
            db=db,
            name=name,
            format=format,
            out=out,
            list_only=list_only,
            procedures=procedures or [],
        )
    )


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Where the demo database and audit logs go.")
    ] = Path("out"),
) -> None:
    """The main job: validate the bundled procedures, run their happy paths on SQLite,
    export, verify and replay each audit log."""
    from engine.cli.demo_cmd import run_demo

    raise typer.Exit(run_demo(out))


@app.command()
def worker(
    *,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: $YISHI_DB, else sqlite:///yishi.db)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval", min=0.0, max=3600.0, help="Seconds to wait when nothing is due."
        ),
    ] = 1.0,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=100_000, help="Timers claimed per round.")
    ] = 100,
    now: Annotated[
        str | None, typer.Option("--now", help="Fire timers due at this time (RFC 3339).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per timer.")] = False,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="Sign timer records with this key (yishi keygen)."),
    ] = None,
) -> None:
    """Fire due timers (state deadlines) from a store; several workers may share one."""
    from engine.cli.worker_cmd import run_worker

    code = run_worker(
        db, once=once, interval=interval, batch=batch, now=now, as_json=as_json,
        signing_key=signing_key,
    )  # fmt: skip
    raise typer.Exit(code)


@app.command()
def serve(
    *,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: $YISHI_DB, else sqlite:///yishi.db)."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0-65535).")
    ] = 8000,
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help="Token file (YAML/JSON): token → actor and roles. Without it: 127.0.0.1 only, "
            "with a printed one-time sign-in link for a local administrator.",
        ),
    ] = None,
    limit_concurrency: Annotated[
        int,
        typer.Option(
            "--limit-concurrency", min=1, help="Requests in progress beyond this get 503."
        ),
    ] = 64,
    header_timeout: Annotated[
        float,
        typer.Option(
            "--header-timeout",
            min=0.1,
            max=3600,
            help="Seconds a client has to send a request head.",
        ),
    ] = 10.0,
    body_timeout: Annotated[
        float,
        typer.Option(
            "--body-timeout", min=0.1, max=3600, help="Seconds a client has to send a body."
        ),
    ] = 15.0,
    keep_alive_timeout: Annotated[
        int,
        typer.Option(
            "--keep-alive-timeout",
            min=1,
            max=3600,
            help="Seconds an idle kept-alive connection stays.",
        ),
    ] = 5,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections", min=1, help="Open sockets beyond which the idlest is closed."
        ),
    ] = 1000,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log each request line.")
    ] = True,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="Sign every record with this key (yishi keygen)."),
    ] = None,
) -> None:
    """Serve the HTTP API (see docs/embedding.md): bearer tokens, problem+json errors."""
    from engine.regular_file import NotRegularFile, open_regular

    try:
        # A FIFO would block the token reader for ever: refuse what is not a file first.
        if tokens is not None:
            open_regular(tokens).close()
    except (NotRegularFile, IsADirectoryError) as exc:
        print(
            f"yishi: error: {tokens}: cannot read the token file: {exc.strerror}", file=sys.stderr
        )
        raise typer.Exit(1) from exc
    except OSError:
        pass  # missing or unreadable: the token reader says so in its own words
    from engine.server.serve import ServeOptions, run_serve

    options = ServeOptions(
        db=db, host=host, port=port, tokens=tokens, limit_concurrency=limit_concurrency,
        header_timeout=header_timeout, body_timeout=body_timeout,
        timeout_keep_alive=keep_alive_timeout, max_connections=max_connections,
        access_log=access_log, signing_key=signing_key,
    )  # fmt: skip
    raise typer.Exit(run_serve(options))


def _add_case_commands() -> None:
    from engine.cli.case_cmd import case_app
    from engine.cli.procedures_cmd import procedures_app

    app.add_typer(case_app, name="case")
    app.add_typer(procedures_app, name="procedures")


_add_case_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``yishi`` console script: never a traceback at a user.

    A usage error (unknown option, missing argument, a value out of range) is one
    line on stderr and exit status 2, not click's framed block. Anything a command
    did not expect is one ``yishi: internal error`` line and exit status 70; set
    ``YISHI_TRACEBACK=1`` to see the traceback when reporting it.
    """
    sys.exit(run_main(argv))


def run_main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="yishi", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        print("yishi: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        usage = _usage_error(exc)
        if usage is not None:
            return usage
        if os.environ.get("YISHI_TRACEBACK"):
            raise
        text = " ".join(str(exc).split())[:300]
        print(
            f"yishi: internal error: {type(exc).__name__}: {text} "
            "(a bug in yishi; run again with YISHI_TRACEBACK=1 and report it)",
            file=sys.stderr,
        )
        return 70
    return status if isinstance(status, int) else 0


def _usage_error(exc: Exception) -> int | None:
    """Print a command-line parsing error as one line; its exit status, or None if not one.

    Typer raises click's errors (from its own copy of click, whose module is private),
    so they are recognised by what they carry: an exit code and ``format_message``.
    """
    format_message = getattr(exc, "format_message", None)
    exit_code = getattr(exc, "exit_code", None)
    if not callable(format_message) or not isinstance(exit_code, int):
        return None
    if type(exc).__name__ == "NoArgsIsHelpError":
        # ``yishi`` or ``yishi case`` alone: the help is the answer, as before.
        print(format_message(), file=sys.stderr)
        return exit_code
    ctx = getattr(exc, "ctx", None)
    where = str(getattr(ctx, "command_path", "") or "yishi")
    message = " ".join(str(format_message()).split())
    hint = f" (see {where} --help)" if ctx is not None else ""
    print(f"{where}: error: {message}{hint}", file=sys.stderr)
    return exit_code
