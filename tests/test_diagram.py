"""Specification of ``engine.definition.diagram``: Mermaid and DOT drawn from the model.

Mermaid output is checked by a structural validator of the ``stateDiagram-v2``
subset we emit (the Mermaid CLI needs a browser). DOT output is checked by
Graphviz itself; on CI (``CI=true``) a missing ``dot`` is a failure, not a skip.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.definition.diagram import (
    CJK_FONT,
    FORMATS,
    TIMER,
    build_diagram,
    dot_quote,
    mermaid_escape,
    render,
    to_dot,
    to_mermaid,
)
from engine.definition.loader import load_procedure
from engine.definition.model import Procedure

ROOT = Path(__file__).resolve().parent.parent
# 四议两公开 as it was at 1.0.0 (a frozen copy): these tests pin its exact labels, choices and
# deadline edges, so amending the bundled procedure (a new version) does not change them.
BUNDLED = ROOT / "tests" / "data" / "four-deliberations-1.0.0.yaml"
TRICKY = ROOT / "tests" / "data" / "tricky-labels.yaml"

# --- a validator for the stateDiagram-v2 subset to_mermaid emits ------------------------

_ID = r"[A-Za-z][A-Za-z0-9_]*"
# Label text: no raw character Mermaid reads as syntax; those appear only as entity codes.
_TEXT = r'(?:[^"#:;%&<>{}\[\]|\\\n]|#(?:quot|lt|gt|\d+);)'
_STATE = re.compile(rf'^    state "({_TEXT}+)" as ({_ID})$')
_START = re.compile(rf"^    \[\*\] --> ({_ID})$")
_EDGE = re.compile(rf"^    ({_ID}) --> ({_ID}) : ({_TEXT}+)$")
_END = re.compile(rf"^    ({_ID}) --> \[\*\]$")
_COMMENT = re.compile(r"^    %% [^\n]*$")


@dataclass
class Mermaid:
    """What a Mermaid text declares."""

    states: dict[str, str] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)


def parse_mermaid(text: str) -> Mermaid:
    """Check every line against the grammar subset and return what was declared.

    Raises AssertionError naming the first line that does not match.
    """
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert text.endswith("\n")
    out = Mermaid()
    states, starts, ends, edges = out.states, out.starts, out.ends, out.edges
    for number, line in enumerate(lines[1:], start=2):
        if _COMMENT.match(line):
            continue
        if match := _STATE.match(line):
            assert match.group(2) not in states, f"line {number}: {line!r} declared twice"
            states[match.group(2)] = match.group(1)
        elif match := _START.match(line):
            starts.append(match.group(1))
        elif match := _EDGE.match(line):
            edges.append((match.group(1), match.group(2), match.group(3)))
        elif match := _END.match(line):
            ends.append(match.group(1))
        else:
            raise AssertionError(f"line {number} is not in the emitted grammar: {line!r}")
    used = set(starts) | set(ends) | {a for a, _, _ in edges} | {b for _, b, _ in edges}
    assert used <= set(states), f"undeclared ids {used - set(states)}"
    assert all(state_id.isascii() for state_id in states)
    return out


def decode_mermaid(text: str) -> str:
    """What Mermaid shows for a label: entity codes turned back into characters."""
    text = text.replace("#quot;", '"').replace("#lt;", "<").replace("#gt;", ">")
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text)


def dot_program() -> str:
    """The Graphviz ``dot`` executable; missing is a failure on CI and a skip elsewhere."""
    found = shutil.which("dot")
    if found is not None:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("Graphviz `dot` is missing on CI; .ci/run must install graphviz")
    pytest.skip("Graphviz `dot` is not installed (with CI=true this fails instead)")


@pytest.fixture(scope="module")
def bundled() -> Procedure:
    """The bundled 四议两公开 procedure."""
    return load_procedure(BUNDLED).procedure


@pytest.fixture(scope="module")
def tricky() -> Procedure:
    """A procedure whose labels hold quotes, colons, brackets, backslashes and newlines."""
    return load_procedure(TRICKY).procedure


# --- Mermaid -------------------------------------------------------------------------------


def test_mermaid_of_bundled_procedure_is_in_the_grammar_with_every_state_and_edge(
    bundled: Procedure,
) -> None:
    """Mermaid declares each state by its ASCII id with its Chinese label, one edge per
    (transition, source), the initial state after [*] and every final state before [*]."""
    parsed = parse_mermaid(to_mermaid(build_diagram(bundled)))

    expected_states = {s.id: s.label for s in bundled.states.values()}
    assert expected_states == {k: decode_mermaid(v) for k, v in parsed.states.items()}
    assert [bundled.initial] == parsed.starts
    assert parsed.ends == ["closed", "rejected"]
    n_edges = sum(len(t.sources) for e in bundled.events.values() for t in e.transitions)
    assert n_edges == len(parsed.edges)


def test_mermaid_edge_label_is_event_label_then_transition_label(bundled: Procedure) -> None:
    """An edge is labelled with the event's Chinese label, then the transition's label."""
    text = to_mermaid(build_diagram(bundled))

    assert "    drafting --> proposed : 党支部提议 / 支委会半数以上到会，过半数同意\n" in text
    assert "    resolved --> resolution_disclosed : 决议公开\n" in text


def test_mermaid_marks_deadline_edges_with_the_timer_and_the_period(bundled: Procedure) -> None:
    """Edges a deadline timer fires carry ⏱, the event label and the period in words."""
    edges = parse_mermaid(to_mermaid(build_diagram(bundled))).edges

    timed = [(a, b, label) for a, b, label in edges if label.startswith(TIMER)]
    assert timed == [
        ("resolution_disclosed", "implementing", "⏱ 决议公示期满 / after 7 calendar days"),
        ("result_disclosed", "awaiting_sign_off", "⏱ 结果公示期满 / after 7 calendar days"),
    ]


def test_mermaid_escapes_syntax_characters_and_round_trips_labels(tricky: Procedure) -> None:
    """Quotes, colons, semicolons, #, %, brackets, braces, pipes and backslashes in labels
    become Mermaid entity codes, newlines become spaces, and decoding gives the label back."""
    parsed = parse_mermaid(to_mermaid(build_diagram(tricky)))
    states = parsed.states

    assert states["start"] == "起草 #quot;草案#quot;#58; A#59; B #35; C"
    assert decode_mermaid(states["start"]) == '起草 "草案": A; B # C'
    assert decode_mermaid(states["s_end"]) == r"结束 {y} | \ %% [x]"
    assert decode_mermaid(states["waiting"]) == "等待 换行"
    [(_, _, go), _] = parsed.edges
    assert decode_mermaid(go) == '提交 "表": 1; 2 / margin # ok'


def test_mermaid_renames_a_state_whose_id_is_a_mermaid_keyword(tricky: Procedure) -> None:
    """A state called ``end`` (a Mermaid keyword) is drawn as ``s_end`` everywhere."""
    parsed = parse_mermaid(to_mermaid(build_diagram(tricky)))

    assert "end" not in parsed.states
    assert parsed.ends == ["s_end"]


def test_mermaid_escape_flattens_lines_and_encodes_each_syntax_character() -> None:
    """``mermaid_escape`` encodes exactly the characters the grammar would misread."""
    assert mermaid_escape("a\n  b") == "a b"
    assert (
        mermaid_escape('#":;%&<>{}[]|\\')
        == "#35;#quot;#58;#59;#37;#38;#lt;#gt;#123;#125;#91;#93;#124;#92;"
    )
    assert mermaid_escape("中文，全角：标点") == "中文，全角：标点"


# --- DOT -----------------------------------------------------------------------------------


def test_dot_quote_escapes_backslashes_quotes_and_newlines() -> None:
    """DOT strings are double-quoted with ``\\``, ``"`` and line breaks escaped."""
    assert dot_quote('a "b" \\ c\nd') == r'"a \"b\" \\ c\nd"'
    assert dot_quote("中文") == '"中文"'


def test_dot_declares_ascii_ids_chinese_labels_finals_start_and_dashed_timers(
    bundled: Procedure,
) -> None:
    """DOT nodes are the quoted ASCII ids labelled in Chinese; finals have a double border;
    a point marks the start; only deadline edges are dashed."""
    text = to_dot(build_diagram(bundled))

    assert text.startswith('digraph "four-deliberations-two-disclosures" {\n')
    assert '    "drafting" [label="拟议"];\n' in text
    assert '    "closed" [label="办结", peripheries="2"];\n' in text
    assert '    "__start__" -> "drafting";\n' in text
    dashed = [line for line in text.splitlines() if 'style="dashed"' in line]
    assert dashed == [
        '    "resolution_disclosed" -> "implementing" '
        '[label="⏱ 决议公示期满\\nafter 7 calendar days", style="dashed"];',
        '    "result_disclosed" -> "awaiting_sign_off" '
        '[label="⏱ 结果公示期满\\nafter 7 calendar days", style="dashed"];',
    ]


@pytest.mark.parametrize("name", ["bundled", "tricky"])
def test_graphviz_accepts_the_dot_output(name: str, request: pytest.FixtureRequest) -> None:
    """``dot -Tsvg`` parses the output without error and draws every id and label."""
    procedure: Procedure = request.getfixturevalue(name)
    program = dot_program()

    result = subprocess.run(
        [program, "-Tsvg"],
        input=render(procedure, "dot").encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert b"syntax error" not in result.stderr
    svg = html.unescape(result.stdout.decode("utf-8"))
    for state in procedure.states.values():
        assert f"<title>{state.id}</title>" in svg
        for line in state.label.splitlines():
            assert line in svg


def test_dot_names_a_cjk_font_with_fallbacks_for_graph_nodes_and_edges(
    bundled: Procedure,
) -> None:
    """The DOT names a CJK font family list (Noto, Source Han, WenQuanYi, then sans-serif)
    for the title, the nodes and the edges, so a server without a CJK default font still
    draws Chinese labels rather than boxes."""
    text = to_dot(build_diagram(bundled))
    families = CJK_FONT.split(",")

    assert families[0] == "Noto Sans CJK SC"
    assert families[-1] == "sans-serif"
    assert {"Source Han Sans SC", "WenQuanYi Micro Hei"} <= set(families)
    quoted = f"fontname={dot_quote(CJK_FONT)}"
    assert text.count(quoted) == 3
    assert f'    node [shape="box", style="rounded", {quoted}];\n' in text
    assert f"    edge [{quoted}];\n" in text
    assert quoted + "];" in text.splitlines()[1]


def test_graphviz_svg_names_the_cjk_font(bundled: Procedure) -> None:
    """``dot -Tsvg`` carries the declared font list into the SVG's text elements, so the
    browser showing the SVG also looks for a CJK font first."""
    result = subprocess.run(
        [dot_program(), "-Tsvg"],
        input=render(bundled, "dot").encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    svg = result.stdout.decode("utf-8")
    families = re.findall(r'font-family="([^"]*)"', svg)
    assert families, "the SVG names no font family"
    assert all(family.startswith("Noto Sans CJK SC") for family in families)
    assert all("sans-serif" in family for family in families)


# --- both ----------------------------------------------------------------------------------


def test_render_refuses_an_unknown_format_naming_the_known_ones(bundled: Procedure) -> None:
    """``render`` raises ValueError for a format other than mermaid or dot."""
    with pytest.raises(ValueError, match="unknown format") as caught:
        render(bundled, "svg")

    assert FORMATS == ("mermaid", "dot")
    assert "mermaid, dot" in str(caught.value)
