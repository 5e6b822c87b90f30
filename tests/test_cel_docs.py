"""docs/cel.md's reference is the dialect table, and the table is what validate accepts."""

from __future__ import annotations

from pathlib import Path

from engine.guards.cel import ATTEMPT_BUDGET, MAX_EXPRESSION_LENGTH, compile_cel
from engine.guards.cel_cost import MAX_EXPRESSION_COST
from engine.guards.cel_dialect import NAMES, TABLE, reference_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "cel.md"
START = (
    "<!-- reference: generated from engine/guards/cel_dialect.py; "
    "edit the table, not this section -->"
)
END = "<!-- end of reference -->"


def test_the_reference_section_is_generated_from_the_table() -> None:
    """Drift: the reference in docs/cel.md is exactly what the dialect table renders
    (regenerate it with engine.guards.cel_dialect.reference_markdown after a change)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(START, 1)[1].split(END, 1)[0]

    assert section.strip() == reference_markdown().strip()


def test_every_name_validate_accepts_is_documented_with_an_example() -> None:
    """Each function and macro name appears in the reference with an example that compiles."""
    text = DOC.read_text(encoding="utf-8")

    for name in sorted(NAMES):
        assert f"{name}(" in text, name
    for entry in TABLE:
        assert compile_cel(entry.example).source == entry.example


def test_the_limits_the_page_states_are_the_engines() -> None:
    """The numbers docs/cel.md gives are the constants the engine enforces."""
    text = DOC.read_text(encoding="utf-8")

    assert f"{MAX_EXPRESSION_COST:,} units" in text
    assert f"{ATTEMPT_BUDGET:,} units" in text
    assert f"{MAX_EXPRESSION_LENGTH:,} characters" in text
