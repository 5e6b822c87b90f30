"""Drift: docs/actions.md, docs/guards.md and docs/counting.md are what the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.registry import BUILTINS, ActionSpec
from engine.reference import guard_kinds, pages

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("actions.md", "counting.md", "guards.md")
"""The generated pages, named here so that collecting the tests generates nothing (each
xdist worker collects every module; generating the pages takes ~0.5 s)."""


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    """Every generated page by file name (engine.reference.pages), made once per module."""
    return pages(ROOT / "procedures")


def test_the_named_pages_are_the_generated_ones(generated: dict[str, str]) -> None:
    """NAMES, which the drift test is parametrised by, lists every generated page."""
    assert sorted(generated) == list(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_reference_equals_generated(name: str, generated: dict[str, str]) -> None:
    """Each committed page is exactly the generated text (python -m engine.reference)."""
    assert (ROOT / "docs" / name).read_text(encoding="utf-8") == generated[name]


@pytest.mark.parametrize("spec", BUILTINS, ids=[s.name for s in BUILTINS])
def test_every_action_is_documented_with_what_it_writes_and_an_example(
    spec: ActionSpec, generated: dict[str, str]
) -> None:
    """Every registered action has a section with its parameters, what it writes and an example."""
    name = spec.name
    page = generated["actions.md"]
    section = page.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
    assert "| parameter |" in section
    assert "**Writes**" in section
    assert "```yaml" in section
    for key in spec.params_schema["properties"]:
        assert f"| `{key}` |" in section


def test_every_guard_kind_is_documented_with_an_example(generated: dict[str, str]) -> None:
    """Every guard kind of the schema has a section with its keys and a bundled example."""
    page = generated["guards.md"]
    for kind in guard_kinds():
        section = page.split(f"## `{kind}`\n", 1)[1].split("\n## ", 1)[0]
        assert "| key |" in section and "```yaml" in section, kind


def test_count_vote_lists_every_status(generated: dict[str, str]) -> None:
    """The statuses count_vote may record are named in its reference."""
    from engine.governance.counting import STATUSES

    section = generated["actions.md"].split("## `count_vote`\n", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{status}`" in section for status in STATUSES)
