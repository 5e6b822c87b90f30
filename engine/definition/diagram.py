"""Draw a procedure as Mermaid (``stateDiagram-v2``) or Graphviz DOT, from the model.

We generate the text ourselves rather than through transitions' diagram support:
its Mermaid output uses state names as ids, which breaks on Chinese names and
would tie the definition layer to the runtime library. Here node ids are the
procedure's ASCII state ids and the Chinese labels are display text, quoted and
escaped for each format:

* Mermaid: ``state "拟议" as drafting``; labels carry Mermaid entity codes
  (``#quot;``, ``#58;`` …) for the characters its grammar would read as syntax.
* DOT: every id and label is a double-quoted string with ``\\`` and ``"``
  escaped; the text is UTF-8.

Both show the initial state (Mermaid ``[*] -->``, a DOT point), the final states
(Mermaid ``--> [*]``, a DOT double border) and the deadline edges a timer fires
(a ⏱ label, dashed in DOT).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.definition.model import Procedure
from engine.definition.periods import period_words

FORMATS = ("mermaid", "dot")
TIMER = "⏱"
# Graphviz's default font (Times) has no Chinese glyphs, so a server without a CJK
# default draws every label as boxes; fontconfig takes the first family it has.
CJK_FONT = "Noto Sans CJK SC,Source Han Sans SC,WenQuanYi Micro Hei,sans-serif"

# Words Mermaid's state-diagram grammar reads as keywords; a state with such an id
# gets a prefixed node id so the diagram still parses.
_MERMAID_KEYWORDS = frozenset(
    {
        "as", "class", "classdef", "click", "concurrent", "default", "direction", "end",
        "fork", "hide", "join", "choice", "left", "note", "of", "over", "right", "root",
        "scale", "state", "statediagram", "style",
    }
)  # fmt: skip
# Characters Mermaid would read as syntax inside a label, as entity codes it decodes.
_MERMAID_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    ":": "#58;",
    ";": "#59;",
    "%": "#37;",
    "&": "#38;",
    "<": "#lt;",
    ">": "#gt;",
    "{": "#123;",
    "}": "#125;",
    "[": "#91;",
    "]": "#93;",
    "|": "#124;",
    "\\": "#92;",
}
_START = "__start__"  # cannot clash: state ids start with a lowercase letter


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A state as drawn: its ASCII id and Chinese label."""

    id: str
    label: str
    initial: bool = False
    final: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """A transition as drawn; ``lines`` are its label lines (event label first)."""

    source: str
    target: str
    event: str
    lines: tuple[str, ...]
    timer: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagram:
    """The format-neutral drawing of a procedure."""

    id: str
    title: str
    version: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def build_diagram(procedure: Procedure) -> Diagram:
    """The states and transitions of a procedure, ready to render in any format.

    An edge is a timer edge when its event is the deadline event of its source state:
    the case leaves that state because time ran out, not because someone acted.

    Args:
        procedure: the procedure model.

    Returns:
        Nodes in state order and edges in event, transition and source order.
    """
    nodes = tuple(
        Node(id=s.id, label=s.label, initial=s.id == procedure.initial, final=s.final)
        for s in procedure.states.values()
    )
    edges: list[Edge] = []
    for event in procedure.events.values():
        for transition in event.transitions:
            for source in transition.sources:
                state = procedure.states.get(source)
                deadline = state.deadline if state is not None else None
                timer = deadline is not None and deadline.event == event.id
                if deadline is not None and timer:
                    period = period_words(deadline.period, deadline.days)
                    lines = [f"{TIMER} {event.label}", f"after {period}"]
                else:
                    lines = [event.label]
                if transition.label:
                    lines.append(transition.label)
                edges.append(
                    Edge(
                        source=source,
                        target=transition.target,
                        event=event.id,
                        lines=tuple(lines),
                        timer=timer,
                    )
                )
    return Diagram(
        id=procedure.id,
        title=procedure.title,
        version=procedure.version,
        nodes=nodes,
        edges=tuple(edges),
    )


def render(procedure: Procedure, fmt: str) -> str:
    """Draw a procedure in one of ``FORMATS``.

    Args:
        procedure: the procedure model.
        fmt: ``"mermaid"`` or ``"dot"``.

    Returns:
        The diagram's text, ending with a newline.

    Raises:
        ValueError: for any other format, naming the ones available.
    """
    if fmt == "mermaid":
        return to_mermaid(build_diagram(procedure))
    if fmt == "dot":
        return to_dot(build_diagram(procedure))
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def to_mermaid(diagram: Diagram) -> str:
    """Render as a Mermaid ``stateDiagram-v2``.

    Args:
        diagram: what ``build_diagram`` returned.

    Returns:
        The Mermaid text: a comment naming the procedure, one ``state "label" as id`` per
        state, ``[*] --> initial``, one ``a --> b : label`` per edge, ``final --> [*]``.
    """
    ids = _mermaid_ids(node.id for node in diagram.nodes)
    lines = [
        "stateDiagram-v2",
        f"    %% {mermaid_escape(diagram.title)} {diagram.id} {mermaid_escape(diagram.version)}",
    ]
    lines += [
        f'    state "{mermaid_escape(node.label)}" as {ids[node.id]}' for node in diagram.nodes
    ]
    lines += [f"    [*] --> {ids[node.id]}" for node in diagram.nodes if node.initial]
    for edge in diagram.edges:
        text = mermaid_escape(" / ".join(edge.lines))
        lines.append(f"    {ids[edge.source]} --> {ids[edge.target]} : {text}")
    lines += [f"    {ids[node.id]} --> [*]" for node in diagram.nodes if node.final]
    return "\n".join(lines) + "\n"


def to_dot(diagram: Diagram) -> str:
    """Render as a Graphviz DOT digraph (UTF-8).

    Args:
        diagram: what ``build_diagram`` returned.

    Returns:
        The DOT text: states as rounded boxes labelled in Chinese (final ones with a double
        border), a point marking the start, edges labelled with the event (and transition)
        labels, timer edges dashed; graph, nodes and edges name ``CJK_FONT``.
    """
    title = f"{diagram.title}\n{diagram.id} {diagram.version}"
    lines = [
        f"digraph {dot_quote(diagram.id)} {{",
        f'    graph [label={dot_quote(title)}, labelloc="t", charset="UTF-8", '
        f"fontname={dot_quote(CJK_FONT)}];",
        f'    node [shape="box", style="rounded", fontname={dot_quote(CJK_FONT)}];',
        f"    edge [fontname={dot_quote(CJK_FONT)}];",
        f'    {dot_quote(_START)} [shape="point", label="", width="0.15"];',
    ]
    for node in diagram.nodes:
        extra = ', peripheries="2"' if node.final else ""
        lines.append(f"    {dot_quote(node.id)} [label={dot_quote(node.label)}{extra}];")
    start = dot_quote(_START)
    lines += [f"    {start} -> {dot_quote(node.id)};" for node in diagram.nodes if node.initial]
    for edge in diagram.edges:
        style = ', style="dashed"' if edge.timer else ""
        label = dot_quote("\n".join(edge.lines))
        lines.append(
            f"    {dot_quote(edge.source)} -> {dot_quote(edge.target)} [label={label}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid_escape(text: str) -> str:
    """Make text safe inside a Mermaid label: entity codes for syntax, one line.

    Args:
        text: any text.

    Returns:
        The text with line breaks as spaces and ``# " : ; % & < > { } [ ] | \\`` as
        Mermaid entity codes, which Mermaid turns back into the characters when drawing.
    """
    flat = " ".join(text.split())
    return "".join(_MERMAID_ENTITIES.get(char, char) for char in flat)


def dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, line breaks as ``\\n``.

    Args:
        text: any text.

    Returns:
        The quoted string, including its quotes.
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{escaped}"'


def _mermaid_ids(state_ids: Iterable[str]) -> dict[str, str]:
    """Node ids for Mermaid: the state id, prefixed when it is a Mermaid keyword."""
    ordered = list(state_ids)
    taken = set(ordered)
    out: dict[str, str] = {}
    for state_id in ordered:
        node_id = state_id
        if state_id.lower() in _MERMAID_KEYWORDS:
            node_id = f"s_{state_id}"
            while node_id in taken:
                node_id = f"s_{node_id}"
            taken.add(node_id)
        out[state_id] = node_id
    return out
