"""The editor's ``$schema`` comment is accepted however it reaches our schema.

``yishi validate`` warns when line 1 does not point editors at the procedure schema. It
accepts the bundled layout's ``../schemas/procedure.schema.json``, the schema's ``$id``,
and any path that, read from the procedure file's own directory, is our schema.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.definition.loader import SCHEMA_COMMENT, check_source, names_our_schema
from engine.schemas import load_schema

PREFIX = "# yaml-language-server: $schema="
SCHEMA_ID = load_schema("procedure.schema.json")["$id"]
BUNDLED = Path(__file__).resolve().parent.parent / "procedures" / "grid-service-flow.yaml"


def _body() -> str:
    return BUNDLED.read_text(encoding="utf-8").split("\n", 1)[1]


def test_the_bundled_layout_and_the_schema_id_are_accepted() -> None:
    """The literal bundled comment and the schema's $id both name our schema."""
    assert names_our_schema(SCHEMA_COMMENT + "\nid: x\n", "anywhere/p.yaml")
    assert names_our_schema(f"{PREFIX}{SCHEMA_ID}\nid: x\n", "p.yaml")


def test_a_relative_path_that_resolves_to_our_schema_is_accepted(tmp_path: Path) -> None:
    """A path read from the file's directory to a copy of the schema is accepted, and the
    procedure then validates with no warning."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "schemas" / "p.json").write_text(
        json.dumps(load_schema("procedure.schema.json")), encoding="utf-8"
    )
    source = f"{PREFIX}../../schemas/p.json\n{_body()}"
    file = tmp_path / "deep" / "er" / "proc.yaml"

    assert names_our_schema(source, str(file))
    assert [p.code for p in check_source(source, str(file)).problems] == []


def test_a_path_to_another_schema_or_nowhere_is_warned_about(tmp_path: Path) -> None:
    """A path to a JSON file with another $id, to nothing, to a directory, to non-JSON, or a
    URL other than our $id is not our schema: the warning names both accepted forms."""
    (tmp_path / "other.json").write_text('{"$id": "https://example.org/x"}', encoding="utf-8")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    file = str(tmp_path / "proc.yaml")
    for target in ["other.json", "missing.json", ".", "bad.json", "https://example.org/x", ""]:
        assert not names_our_schema(f"{PREFIX}{target}\nid: x\n", file), target
    assert not names_our_schema("id: x\n", file)

    report = check_source(f"{PREFIX}other.json\n{_body()}", file)
    assert [p.code for p in report.problems] == ["editor.schema-comment"]
    assert SCHEMA_ID in report.problems[0].message
    assert report.compiled is not None
