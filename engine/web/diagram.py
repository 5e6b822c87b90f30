"""A procedure's diagram with a case's path drawn on it, as SVG from Graphviz ``dot``.

The drawing is the same one ``yishi graph`` makes (``build_diagram``); on top of it
the states the case has been in are shaded, the current one is filled and bold,
and the transitions it took are drawn thick and coloured, so a person sees at a
glance where the case stands and how it got there. Labels go through the same DOT
quoting as ``yishi graph``; the page shows the SVG as an image, so nothing in it
can run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from engine.definition.diagram import CJK_FONT, build_diagram, dot_quote
from engine.definition.model import Procedure
from engine.server.routes_procedures import DOT_TIMEOUT, find_dot

_START = "__start__"
CURRENT = "#b3261e"
VISITED = "#fbe3d6"
TAKEN = "#b3261e"


def path_of(records: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[tuple[str, str, str]]]:
    """The states a case has been in and the ``(from, event, to)`` steps it applied."""
    states: set[str] = set()
    steps: set[tuple[str, str, str]] = set()
    for record in records:
        target = record.get("to")
        if isinstance(target, str):
            states.add(target)
        source, event = record.get("from"), record.get("event")
        if record.get("kind") in ("event.applied", "timer.fired") and (
            isinstance(source, str) and isinstance(event, str) and isinstance(target, str)
        ):
            steps.add((source, event, target))
    return states, steps


def case_dot(
    procedure: Procedure,
    *,
    current: str | None = None,
    visited: set[str] | None = None,
    taken: set[tuple[str, str, str]] | None = None,
) -> str:
    """The DOT text of the procedure with the case's path highlighted.

    Args:
        procedure: the procedure model.
        current: the case's state, drawn filled and bold.
        visited: states the case has been in, shaded.
        taken: ``(from, event, to)`` steps the case applied, drawn thick.

    Returns:
        A DOT digraph.
    """
    diagram = build_diagram(procedure)
    seen = visited or set()
    steps = taken or set()
    title = f"{diagram.title}\n{diagram.id} {diagram.version}"
    lines = [
        f"digraph {dot_quote(diagram.id)} {{",
        f'    graph [label={dot_quote(title)}, labelloc="t", charset="UTF-8", '
        f"fontname={dot_quote(CJK_FONT)}];",
        f'    node [shape="box", style="rounded", fontname={dot_quote(CJK_FONT)}];',
        f'    edge [fontname={dot_quote(CJK_FONT)}, fontsize="10"];',
        f'    {dot_quote(_START)} [shape="point", label="", width="0.15"];',
    ]
    for node in diagram.nodes:
        extra = ', peripheries="2"' if node.final else ""
        if node.id == current:
            extra += f', style="rounded,filled,bold", fillcolor="{CURRENT}", fontcolor="white"'
        elif node.id in seen:
            extra += f', style="rounded,filled", fillcolor="{VISITED}"'
        lines.append(f"    {dot_quote(node.id)} [label={dot_quote(node.label)}{extra}];")
    start = dot_quote(_START)
    lines += [f"    {start} -> {dot_quote(node.id)};" for node in diagram.nodes if node.initial]
    for edge in diagram.edges:
        style = ', style="dashed"' if edge.timer else ""
        if (edge.source, edge.event, edge.target) in steps:
            style += f', color="{TAKEN}", fontcolor="{TAKEN}", penwidth="2.5"'
        label = dot_quote("\n".join(edge.lines))
        lines.append(
            f"    {dot_quote(edge.source)} -> {dot_quote(edge.target)} [label={label}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(dot_text: str) -> bytes | None:
    """SVG drawn by Graphviz, or None when ``dot`` is not installed, fails or takes too long."""
    dot = find_dot()
    if dot is None:
        return None
    try:
        drawn = subprocess.run(  # noqa: S603 - a fixed program; the DOT text goes on stdin
            [dot, "-Tsvg"], input=dot_text.encode("utf-8"), capture_output=True,
            timeout=DOT_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return drawn.stdout if drawn.returncode == 0 else None
