"""Every bundled procedure loads cleanly: no errors, no warnings, the editor comment first."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.definition.loader import SCHEMA_COMMENT, check_source, load_procedure, read_source

PROCEDURES = sorted((Path(__file__).resolve().parent.parent / "procedures").glob("*.yaml"))


def test_there_are_procedures() -> None:
    """At least the 四议两公开 procedure ships."""
    assert "four-deliberations-two-disclosures.yaml" in [p.name for p in PROCEDURES]


@pytest.mark.parametrize("path", PROCEDURES, ids=[p.stem for p in PROCEDURES])
def test_procedure_starts_with_the_schema_comment(path: Path) -> None:
    """Line 1 points editors at the schema so they check the file as it is typed."""
    assert read_source(path).splitlines()[0] == SCHEMA_COMMENT


@pytest.mark.parametrize("path", PROCEDURES, ids=[p.stem for p in PROCEDURES])
def test_procedure_has_no_problems(path: Path) -> None:
    """A bundled procedure is an example to copy: it validates with no errors or warnings."""
    report = check_source(read_source(path), str(path))
    assert [str(p) for p in report.problems] == []
    assert report.compiled is not None


@pytest.mark.parametrize("path", PROCEDURES, ids=[p.stem for p in PROCEDURES])
def test_procedure_is_identified_by_the_sha256_of_its_source(path: Path) -> None:
    """The model names its id, version and the sha256 of the exact text it came from."""
    procedure = load_procedure(path).procedure
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert procedure.key == (procedure.id, procedure.version, digest)
    assert path.stem == procedure.id
