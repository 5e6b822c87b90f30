"""Semantic checks the schema cannot express (engine.definition.lint).

Each test starts from one small valid procedure and changes one thing; the
corpus in tests/procedures/invalid pins the exact messages, these tests pin the
rules: what is reported, and just as much what is not.
"""

from __future__ import annotations

from engine.definition.loader import SCHEMA_COMMENT, check_source

BASE = f"""{SCHEMA_COMMENT}
id: minimal
version: "1.0.0"
title: 最小程序
rule_set:
  name: test
roles:
  clerk:
    label: 文书
initial: drafting
states:
  drafting:
    label: 拟议
  proposed:
    label: 已提议
    deadline:
      after: P7D
      event: expire
  adopted:
    label: 通过
    final: true
  rejected:
    label: 未通过
    final: true
events:
  propose:
    label: 提议
    roles: [clerk]
    transitions:
      - from: drafting
        to: proposed
  vote:
    label: 表决
    roles: [clerk]
    payload:
      type: object
      properties:
        approve:
          type: integer
    transitions:
      - from: proposed
        to: adopted
        guards:
          - cel: payload.approve > 0
      - from: proposed
        to: rejected
  expire:
    label: 期满
    transitions:
      - from: proposed
        to: rejected
"""


def _change(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _codes(text: str) -> list[tuple[str, str]]:
    """(code, path) of every problem, in report order."""
    report = check_source(text, "p.yaml")
    return [(p.code, p.location.path) for p in report.problems]


def test_base_procedure_is_valid() -> None:
    """The starting point of every test below has no problems."""
    assert _codes(BASE) == []


def test_timer_only_event_needs_no_role() -> None:
    """An event fired only by a deadline (expire) may list no roles."""
    assert "event.no-role" not in [code for code, _ in _codes(BASE)]


def test_event_with_neither_role_nor_deadline_is_reported() -> None:
    """Without the deadline, nobody could ever fire expire."""
    text = _change("    deadline:\n      after: P7D\n      event: expire\n", "")
    assert _codes(text) == [("event.no-role", "events.expire")]


def test_unknown_state_is_reported_once_without_graph_echoes() -> None:
    """A misspelt target is one mistake: no 'unreachable' or 'dead end' reports follow from it."""
    text = _change("        to: proposed\n", "        to: propsed\n")
    assert _codes(text) == [("unknown-state", "events.propose.transitions[0].to")]


def test_unknown_state_in_a_list_of_sources_points_at_the_item() -> None:
    """from: [a, b] — the misspelt item is named by its index."""
    text = _change("      - from: drafting\n", "      - from: [drafting, drafed]\n")
    assert _codes(text) == [("unknown-state", "events.propose.transitions[0].from[1]")]


def test_unknown_role_does_not_hide_graph_problems() -> None:
    """Roles play no part in reachability, so both problems are reported together."""
    text = _change(
        "    roles: [clerk]\n    transitions:\n      - from: drafting",
        "    roles: [clerks]\n    transitions:\n      - from: drafting",
    )
    text = _change(
        "  rejected:\n    label",
        "  archived:\n    label: 归档\n    final: true\n  rejected:\n    label",
        text,
    )
    assert _codes(text) == [
        ("state.unreachable", "states.archived"),
        ("unknown-role", "events.propose.roles[0]"),
    ]


def test_guarded_transitions_do_not_shadow() -> None:
    """Only an earlier transition with no guards makes a later one unreachable."""
    assert "transition.shadowed" not in [code for code, _ in _codes(BASE)]


def test_unguarded_transitions_from_different_sources_do_not_shadow() -> None:
    """Shadowing is per source state: other sources are unaffected."""
    text = _change(
        "      - from: drafting\n        to: proposed\n",
        "      - from: drafting\n        to: proposed\n"
        "      - from: proposed\n        to: proposed\n",
    )
    assert _codes(text) == []


def test_shared_source_in_a_list_is_shadowed() -> None:
    """from: [a, b] unguarded shadows a later transition from b."""
    text = _change(
        "      - from: drafting\n        to: proposed\n",
        "      - from: [drafting, proposed]\n        to: proposed\n"
        "      - from: proposed\n        to: rejected\n",
    )
    assert _codes(text) == [("transition.shadowed", "events.propose.transitions[1]")]


def test_self_loop_alone_is_not_a_way_out() -> None:
    """A state whose only transition returns to itself cannot reach a final state."""
    text = _change("  adopted:\n", "  limbo:\n    label: 搁置\n  adopted:\n")
    text = _change(
        "  expire:\n",
        "  park:\n    label: 搁置\n    roles: [clerk]\n    transitions:\n"
        "      - from: proposed\n        to: limbo\n      - from: limbo\n        to: limbo\n"
        "  expire:\n",
        text,
    )
    assert _codes(text) == [("state.no-final", "states.limbo")]


def test_working_day_deadlines_are_whole_days() -> None:
    """P5D and P2W count working days; PT48H cannot (a working day has no hours)."""
    for period, codes in [
        ("P5D", []),
        ("P2W", []),
        ("PT48H", [("deadline.working-days", "states.proposed.deadline.after")]),
        ("P1DT12H", [("deadline.working-days", "states.proposed.deadline.after")]),
    ]:
        text = _change("      after: P7D\n", f"      after: {period}\n      days: working\n")
        assert _codes(text) == codes, period


def test_calendar_deadline_may_have_hours() -> None:
    """Calendar deadlines accept any ISO 8601 duration."""
    assert _codes(_change("      after: P7D\n", "      after: PT48H\n")) == []


def test_unknown_initial_state_is_reported_at_its_value() -> None:
    """initial: names a state that does not exist."""
    report = check_source(_change("initial: drafting", "initial: draft"), "p.yaml")
    assert [str(p) for p in report.problems] == [
        "p.yaml:10:10: initial: unknown state 'draft'; did you mean 'drafting'?"
    ]


def test_misspelt_state_does_not_hide_a_real_unreachable_state() -> None:
    """A misspelt name with a close match is read as that state for the graph checks, so a
    state that is unreachable for another reason is reported in the same run, without echoes
    of the misspelling."""
    text = _change("        to: proposed\n", "        to: propsed\n")
    text = _change(
        "  rejected:\n    label",
        "  archived:\n    label: 归档\n    final: true\n  rejected:\n    label",
        text,
    )
    assert _codes(text) == [
        ("state.unreachable", "states.archived"),
        ("unknown-state", "events.propose.transitions[0].to"),
    ]


def test_a_name_without_a_close_match_leaves_the_graph_unchecked() -> None:
    """A state name that resembles no state cannot be read as any: the graph is unknown, so
    only the name is reported (no guessed 'unreachable')."""
    text = _change("        to: proposed\n", "        to: zzz\n")
    assert _codes(text) == [("unknown-state", "events.propose.transitions[0].to")]


def test_schema_error_does_not_hide_names_or_the_graph() -> None:
    """A schema error, a misspelt state and an unreachable state come in one report."""
    text = _change("  drafting:\n    label: 拟议\n", "  drafting:\n    lable: 拟议\n")
    text = _change("        to: rejected\n  expire", "        to: rejectd\n  expire", text)
    text = _change(
        "  rejected:\n    label",
        "  archived:\n    label: 归档\n    final: true\n  rejected:\n    label",
        text,
    )
    assert _codes(text) == [
        ("schema.unknown-key", "states.drafting.lable"),
        ("state.unreachable", "states.archived"),
        ("unknown-state", "events.vote.transitions[1].to"),
    ]
    assert check_source(text, "p.yaml").compiled is None


def test_schema_error_in_a_transition_skips_the_graph_but_not_the_names() -> None:
    """A transition the schema refuses (to: a list) leaves the graph unknown: no state is
    called unreachable, but an unknown role elsewhere is still reported."""
    text = _change("        to: proposed\n", "        to: [proposed]\n")
    text = _change("    roles: [clerk]\n    payload", "    roles: [clerks]\n    payload", text)
    assert _codes(text) == [
        ("schema.type", "events.propose.transitions[0].to"),
        ("unknown-role", "events.vote.roles[0]"),
    ]


def test_a_problem_the_schema_reported_is_not_repeated_by_the_name_check() -> None:
    """A refused state id is one mistake: the transitions naming the id the author meant
    are not reported as unknown states."""
    text = BASE.replace("rejected", "未通过")
    assert [code for code, _ in _codes(text)] == ["schema.id"]
