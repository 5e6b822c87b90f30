"""The ``yishi`` command line: one small module per command, imported on use.

``yishi --help`` must start fast, so this module imports only typer; each
command imports what it needs (CEL, jsonschema, rich) when it runs.
"""

from __future__ import annotations

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
) -> None:
    """Run a scenario through its procedure, print each step and check its expectations."""
    from engine.cli.run_cmd import run_scenario_command

    raise typer.Exit(run_scenario_command(scenario, audit=audit, db=db))


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="An audit log (JSONL).", show_default=False)],
) -> None:
    """Check every hash chain in an audit log; exit 1 naming the first bad case and seq."""
    from engine.cli.verify_cmd import run_verify

    raise typer.Exit(run_verify(path))


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
) -> None:
    """Re-execute every recorded attempt and report the first divergence."""
    from engine.cli.replay_cmd import run_replay

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
        float, typer.Option("--interval", help="Seconds to wait when nothing is due.")
    ] = 1.0,
    batch: Annotated[int, typer.Option("--batch", help="Timers claimed per round.")] = 100,
    now: Annotated[
        str | None, typer.Option("--now", help="Fire timers due at this time (RFC 3339).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per timer.")] = False,
) -> None:
    """Fire due timers (state deadlines) from a store; several workers may share one."""
    from engine.cli.worker_cmd import run_worker

    raise typer.Exit(
        run_worker(db, once=once, interval=interval, batch=batch, now=now, as_json=as_json)
    )


@app.command()
def serve(
    *,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: $YISHI_DB, else sqlite:///yishi.db)."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
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
) -> None:
    """Serve the HTTP API (see docs/embedding.md): bearer tokens, problem+json errors."""
    from engine.server.serve import ServeOptions, run_serve

    options = ServeOptions(
        db=db, host=host, port=port, tokens=tokens, limit_concurrency=limit_concurrency,
        header_timeout=header_timeout, body_timeout=body_timeout,
        timeout_keep_alive=keep_alive_timeout, max_connections=max_connections,
        access_log=access_log,
    )  # fmt: skip
    raise typer.Exit(run_serve(options))


def _add_case_commands() -> None:
    from engine.cli.case_cmd import case_app

    app.add_typer(case_app, name="case")


_add_case_commands()


def main() -> None:
    """Entry point of the ``yishi`` console script."""
    app()
