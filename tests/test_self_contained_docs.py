"""User-facing text is self-contained: it cites only what the repository holds.

Procedures, schemas, docs, the README and the engine's messages once cited files a user
never receives ("DOMAIN.md §8", "seed part 5", "../shared/"). The rules and their sources
now live in docs/rules.md; these tests keep every citation inside the repository and keep
docs/rules.md covering every rule number the engine and the procedures use.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / name for name in ("README.md", "docs", "procedures", "schemas", "engine")]
OUTSIDE = re.compile(r"DOMAIN\.md|seed part|\.\./shared/", re.IGNORECASE)
TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".json", ".txt", ".toml", ".j2", ".html"}
RULE = re.compile(r"\bR(\d{1,2})\b")
RULE_RANGE = re.compile(r"\bR(\d{1,2})[–-]R?(\d{1,2})\b")


def _files() -> list[Path]:
    found: list[Path] = []
    for top in SHIPPED:
        paths = [top] if top.is_file() else sorted(top.rglob("*"))
        found += [p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return found


def test_no_user_facing_text_cites_a_file_outside_the_repository() -> None:
    """No shipped text names DOMAIN.md, a "seed part" or ../shared/ (the same search as
    ``grep -rn "DOMAIN.md\\|seed part" README.md docs procedures schemas engine``)."""
    files = _files()
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]

    assert len(files) > 100, "the search must cover the engine, procedures, schemas and docs"
    assert hits == []


def test_the_search_finds_an_outside_citation_when_there_is_one() -> None:
    """The pattern catches each form the old citations took, so the test above can fail."""
    for line in ["(DOMAIN.md §8)", "seed part 4", "Seed Part 2", "`../shared/DOMAIN.md`"]:
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("docs/rules.md, R16")


def _numbers(text: str) -> set[int]:
    numbers = {int(n) for n in RULE.findall(text)}
    for low, high in RULE_RANGE.findall(text):
        numbers |= set(range(int(low), int(high) + 1))
    return numbers


@pytest.mark.parametrize("number", range(1, 21))
def test_rules_doc_states_every_rule_number(number: int) -> None:
    """docs/rules.md defines each of R1–R20 in a bullet of its own, with a source tag."""
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    defined = re.findall(r"^- \*\*R(\d+)(?:[–-]R(\d+))?\b[^\n]*", text, re.MULTILINE)
    covered: set[int] = set()
    for low, high in defined:
        covered |= set(range(int(low), int(high or low) + 1))

    assert number in covered


def test_every_rule_number_the_engine_or_a_procedure_cites_is_in_the_rules_doc() -> None:
    """A rule number used in engine/governance, the actions or a procedure is one that
    docs/rules.md states, so the reference a record or a message gives can be looked up."""
    rules = _numbers((ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))
    cited: set[int] = set()
    for top in [ROOT / "engine" / "governance", ROOT / "engine" / "actions", ROOT / "procedures"]:
        for path in sorted(top.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".yaml"}:
                cited |= _numbers(path.read_text(encoding="utf-8"))

    assert cited, "the engine cites rule numbers"
    assert cited <= rules, sorted(cited - rules)


def test_readme_links_the_rules_doc_for_each_bundled_procedure() -> None:
    """The README's table of bundled procedures points at sections of docs/rules.md that
    exist (the heading a link's anchor names)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rules = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", rules, re.MULTILINE)}
    linked = re.findall(r"\(docs/rules\.md#([^)]+)\)", readme)

    assert len(linked) >= 5
    assert set(linked) <= anchors, sorted(set(linked) - anchors)


def _anchor(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading."""
    lowered = heading.strip().lower()
    kept = "".join(c for c in lowered if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")
