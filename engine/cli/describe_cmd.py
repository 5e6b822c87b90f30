"""``yishi describe``: a procedure in plain words, rendered with rich.

The words come from ``engine.definition.describe``; this module only lays them
out (tables for roles and states, a tree for events and their transitions).
Every text from the procedure file is escaped before rich sees it, so a label
such as ``[草案]`` is shown as written rather than read as markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from engine.cli.loading import load_or_report
from engine.definition.describe import (
    EventDescription,
    ProcedureDescription,
    describe_procedure,
)


def run_describe(path: Path) -> int:
    """Describe one procedure file on stdout.

    Args:
        path: the procedure file.

    Returns:
        0 when described; 1 when the file is missing or invalid (its located problems are
        printed to stderr, as ``validate`` prints them).
    """
    compiled = load_or_report(path)
    if compiled is None:
        return 1
    render_description(describe_procedure(compiled), Console(highlight=False))
    return 0


def render_description(description: ProcedureDescription, console: Console) -> None:
    """Print a procedure's description.

    Args:
        description: what ``describe_procedure`` returned.
        console: where to print.
    """
    console.print(_header(description))
    console.print(_roles(description))
    console.print(_states(description))
    console.print(_events(description))


def _header(d: ProcedureDescription) -> Panel:
    lines = [
        f"[bold]{escape(d.title)}[/bold]  {escape(d.id)} {escape(d.version)}",
        f"file: {escape(d.file)}   sha256: {d.sha256[:16]}…",
    ]
    if d.description:
        lines.append(escape(d.description))
    rule = f"rule set: {escape(d.rule_set)}"
    if d.basis:
        rule += f" — {escape(d.basis)}"
    lines.append(rule)
    lines += [f"  {escape(key)}: {escape(value)}" for key, value in d.choices]
    openers = ", ".join(f"{r.id} ({r.label})" for r in d.opened_by) or "nobody"
    lines.append(f"opened by 可立案: {escape(openers)}")
    lines += [f"  counting {escape(name)}: {escape(text)}" for name, text in d.counting]
    return Panel("\n".join(lines), title="procedure 规程", title_align="left")


def _roles(d: ProcedureDescription) -> Table:
    table = Table(title="roles 角色", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("label 名称")
    table.add_column("description 说明")
    for role in d.roles:
        table.add_row(escape(role.id), escape(role.label), escape(role.description))
    return table


def _states(d: ProcedureDescription) -> Table:
    table = Table(title="states 状态", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("label 名称")
    table.add_column("kind")
    table.add_column("deadline 期限", overflow="fold")
    for state in d.states:
        kind = ", ".join(
            word for word, flag in (("initial", state.initial), ("final", state.final)) if flag
        )
        table.add_row(escape(state.id), escape(state.label), kind, escape(state.deadline))
    return table


def _events(d: ProcedureDescription) -> Tree:
    tree = Tree(
        "[bold]events 事项[/bold] (transitions are tried in order; the first whose "
        "guards all hold is taken)"
    )
    for event in d.events:
        _event(tree, event)
    return tree


def _event(tree: Tree, event: EventDescription) -> None:
    node = tree.add(f"[bold]{escape(event.id)}[/bold] {escape(event.label)}")
    if event.description:
        node.add(escape(event.description))
    node.add(f"fired by: {escape(event.fired_by)}")
    if event.secret_ballot:
        node.add("secret ballot: who voted is recorded only as attendance, never beside a ballot")
    if event.payload:
        payload = node.add("payload 内容")
        for item in event.payload:
            need = "required" if item.required else "optional"
            title = f" — {escape(item.title)}" if item.title else ""
            payload.add(f"{escape(item.name)} ({escape(item.type)}, {need}){title}")
    else:
        node.add("payload: none")
    for number, transition in enumerate(event.transitions, start=1):
        label = f" — {escape(transition.label)}" if transition.label else ""
        step = node.add(f"{number}. {escape(transition.route)}{label}")
        if not transition.guards:
            step.add("no guards: always taken when fired here")
        for guard in transition.guards:
            step.add(f"guard: {escape(guard)}")
        for action in transition.actions:
            step.add(f"action: {escape(action)}")
