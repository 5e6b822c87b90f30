"""Drift: the keys the JSON Schema allows are exactly the keys the model builder reads.

Editors complete and check procedures from ``schemas/procedure.schema.json``;
``engine/definition/build.py`` turns them into the model. If the two drift, a
key an editor offers is silently ignored, or the builder reads a key no editor
will accept. Three checks pin them together:

1. a maximal procedure uses every key the schema allows, at every level, and is valid;
2. building it with instrumented mappings records every key the builder reads, per
   schema level; the two sets must be equal;
3. changing any single value of the maximal procedure changes the built model, so
   no value is read and then dropped.

The action level is checked against the registry instead: the schema's
``$defs.action`` names exactly the built-in actions, with the same parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from engine.actions.registry import BUILTINS, default_registry
from engine.definition.build import build_procedure
from engine.definition.loader import SCHEMA_COMMENT, check_source
from engine.definition.model import Procedure
from engine.definition.strict_yaml import Document, Path, parse_yaml
from engine.schemas import load_schema

MAXIMAL = f"""{SCHEMA_COMMENT}
id: maximal
version: "2.1.0"
title: 全键程序
description: uses every key the schema allows
time_zone: Europe/Berlin
rule_set:
  name: drift
  basis: the schema itself
  choices:
    majority_base: present
    quorum_operator: at_least
    trust_vote:
      denominator: cast
      use: gate
    tie_at_cutoff: revote
    write_ins:
      allowed: true
      review: false
    satisfaction_numerator: satisfied
    disclosure:
      period: P7D
      days: calendar
    meetings:
      assembly:
        label: 大会
        quorum:
          combine: all
          members: {{of: 成员, at_least: "1/2"}}
        adoption: {{of: 到会成员, more_than: "1/2"}}
roles:
  clerk:
    label: 文书
    description: keeps the minutes
opened_by: [clerk]
data:
  type: object
  title: 案件数据
  description: the case data
  required: [n]
  additionalProperties: false
  properties:
    n:
      type: integer
      minimum: 0
      maximum: 100
      default: 1
      examples: [1, 2]
    s:
      type: [string, "null"]
      minLength: 1
      maxLength: 9
      pattern: "^[a-z]+$"
      format: date
      enum: [a, b]
    k:
      const: x
    lst:
      type: array
      items:
        type: string
      minItems: 0
      maxItems: 5
      uniqueItems: true
    w:
      type: object
      additionalProperties:
        type: string
counting:
  r1:
    label: 选举
    basis: the schema itself
    form: approval
    seats: 2
    turnout: {{base: registered, more_than: "1/2", label: t1}}
    decide:
      threshold: {{base: valid, at_least: "1/3", label: d1}}
    ties: lot
    further_round:
      extra: "1/5"
      decide:
        most_votes:
          floor: {{base: returned, at_least: "1/3"}}
    seat_reduction:
      adopt: {{base: present, more_than: "1/2", label: s1}}
      floor: 2
    write_ins: review
    blank: invalid
    invalid_reasons: {{signed: 署名}}
    proxies: {{cap: 3}}
    words: {{elected: 当选}}
  r2:
    label: 另行选举
    form: single
    turnout: {{base: expected, at_least: "1/2"}}
    decide:
      most_votes:
        floor: {{base: returned, at_most: "1/3"}}
    seat_reduction:
      adopt: {{base: expected, at_least: "1/2"}}
  r3:
    label: 表决
    form: motion
    turnout: {{base: present, less_than: "1/2"}}
    decide:
      threshold: {{base: voters, less_than: "1/2"}}
  r4:
    label: 表决二
    form: motion
    turnout: {{base: present, at_most: "1/2"}}
    decide:
      threshold: {{base: voters, more_than: "1/2"}}
  r5:
    label: 测评
    form: grades
    grades: [优秀, 合格]
    findings:
      - {{grade: 优秀, base: valid, at_least: "2/3", label: f1}}
      - {{grade: 合格, base: valid, more_than: "1/3", label: f2}}
      - {{grade: 合格, base: voters, less_than: "1/3", label: f3}}
      - {{grade: 优秀, base: returned, at_most: "1/3", label: f4}}
  r6:
    preset: party-election-2020
    seat_reduction:
      adopt: {{base: voters, less_than: "1/2"}}
  r7:
    preset: party-election-1990
    seat_reduction:
      adopt: {{base: registered, at_most: "1/2"}}
initial: open
states:
  open:
    label: 开放
    description: waiting
    deadline:
      after: P5D
      days: working
      event: timeout
  closed:
    label: 结束
    description: done
    final: true
events:
  decide:
    label: 决定
    description: the decision
    roles: [clerk]
    secret_ballot: true
    payload:
      type: object
      properties:
        present: {{type: integer}}
        yes: {{type: integer}}
        candidates: {{type: integer}}
        seats: {{type: integer}}
        note: {{type: string}}
    transitions:
      - from: open
        to: closed
        label: 通过
        guards:
          - cel: payload.yes <= payload.present
            explain: yes votes do not exceed those present
            label: 票数核对
          - quorum: {{present: payload.present, expected: data.n, more_than: "1/2", label: q1}}
          - quorum: {{present: payload.present, expected: data.n, at_least: "2/3", label: q2}}
          - quorum: {{present: payload.present, expected: 10, less_than: "3/4", label: q3}}
          - quorum: {{present: 7, expected: data.n, at_most: "4/5", label: q4}}
          - threshold:
              {{count: payload.yes, of: payload.present, more_than: "1/3", base: b1, label: t1}}
          - threshold: {{count: payload.yes, of: data.n, at_least: "2/5", base: b2, label: t2}}
          - threshold: {{count: 3, of: payload.present, less_than: "3/5", base: b3, label: t3}}
          - threshold: {{count: payload.yes, of: 9, at_most: "4/7", base: b4, label: t4}}
          - margin:
              {{candidates: payload.candidates, seats: payload.seats, at_least: "1/5", label: m}}
          - weights: {{of: data.w, label: w}}
          - meeting_rule:
              meeting: assembly
              quorum:
                members: {{present: payload.present, expected: data.n}}
              adoption: {{yes: payload.yes, of: payload.present}}
              label: mr
        actions:
          - set: {{path: data.s, value: a}}
          - set: {{path: data.k, expr: '"x"'}}
          - append: {{path: data.lst, expr: payload.note}}
          - append: {{path: data.lst, value: z}}
          - increment: {{path: data.n, by: 2}}
          - increment: {{path: data.n}}
      - from: [open]
        to: closed
  timeout:
    label: 超时
    transitions:
      - from: open
        to: closed
documents:
  - name: minutes
    title: 会议记录
    after: [closed]
    template: templates/minutes.html
"""

# Levels whose value the builder keeps whole (a JSON Schema, the rule-set choices):
# every key lands in the model by copying, which check 3 verifies.
PASS_THROUGH = {"#/$defs/field", "#/properties/rule_set/properties/choices"}
ACTIONS = "#/$defs/action"


def _resolve(schema: dict[str, Any], node: dict[str, Any], pointer: str) -> tuple[Any, str]:
    while "$ref" in node:
        pointer = node["$ref"]
        node = schema
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part]
    return node, pointer


def schema_levels() -> dict[str, set[str]]:
    """Every object level of the schema (by JSON pointer) and the keys it allows."""
    schema = load_schema("procedure.schema.json")
    levels: dict[str, set[str]] = {}

    def walk(node: dict[str, Any], pointer: str) -> None:
        node, pointer = _resolve(schema, node, pointer)
        if pointer in levels or pointer in PASS_THROUGH or pointer == ACTIONS:
            return
        if "properties" in node:
            levels[pointer] = set(node["properties"])
            for key, child in node["properties"].items():
                walk(child, f"{pointer}/properties/{key}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{pointer}/additionalProperties")
        for keyword in ("oneOf", "anyOf"):
            for index, branch in enumerate(node.get(keyword, [])):
                walk(branch, f"{pointer}/{keyword}/{index}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{pointer}/items")

    walk(schema, "#")
    return levels


class Recording(dict[str, Any]):
    """A mapping that notes, per schema level, every key read with [] or get()."""

    reads: ClassVar[dict[str, set[str]]] = {}

    def __init__(self, values: dict[str, Any], level: str) -> None:
        super().__init__(values)
        self.level = level

    def __getitem__(self, key: str) -> Any:
        Recording.reads.setdefault(self.level, set()).add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        Recording.reads.setdefault(self.level, set()).add(key)
        return super().get(key, default)


def _tag(value: Any, node: dict[str, Any], pointer: str, seen: dict[str, set[str]]) -> Any:
    """``value`` with each mapping replaced by a Recording of its schema level.

    ``seen`` collects the keys the document itself uses at each level.
    """
    schema = load_schema("procedure.schema.json")
    node, pointer = _resolve(schema, node, pointer)
    if pointer in PASS_THROUGH or pointer == ACTIONS:
        return value
    if isinstance(value, dict) and "oneOf" in node:
        for index, branch in enumerate(node["oneOf"]):
            if branch.get("required", [None])[0] in value:
                return _tag(value, branch, f"{pointer}/oneOf/{index}", seen)
    if isinstance(value, dict):
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if key in props:
                out[key] = _tag(item, props[key], f"{pointer}/properties/{key}", seen)
            elif isinstance(extra, dict):
                out[key] = _tag(item, extra, f"{pointer}/additionalProperties", seen)
            else:
                out[key] = item
        if props:
            seen.setdefault(pointer, set()).update(value)
            return Recording(out, pointer)
        return out
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_tag(item, node["items"], f"{pointer}/items", seen) for item in value]
    return value


def _document() -> Document:
    return parse_yaml(MAXIMAL, "maximal.yaml")


def _build(doc: Document, value: Any) -> Procedure:
    shadow = Document(
        file=doc.file, value=value, positions=doc.positions, key_positions=doc.key_positions
    )
    procedure, _problems = build_procedure(shadow, MAXIMAL)
    return procedure


def test_maximal_procedure_is_valid() -> None:
    """The maximal procedure is itself a valid procedure (so it exercises real paths)."""
    report = check_source(MAXIMAL, "maximal.yaml")
    assert [str(p) for p in report.problems] == []


def test_maximal_procedure_uses_every_key_the_schema_allows() -> None:
    """At each object level of the schema, the maximal procedure writes every allowed key."""
    seen: dict[str, set[str]] = {}
    _tag(_document().value, load_schema("procedure.schema.json"), "#", seen)
    assert seen == schema_levels()


def test_builder_reads_exactly_the_keys_the_schema_allows() -> None:
    """Per schema level, the keys build.py reads equal the keys the schema allows."""
    doc = _document()
    Recording.reads = {}
    tagged = _tag(doc.value, load_schema("procedure.schema.json"), "#", {})
    _build(doc, tagged)
    assert Recording.reads == schema_levels()


def _leaves(value: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    elif value is not None:
        yield path


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return f"{value}x"


LEAVES = list(_leaves(_document().value))


@pytest.mark.parametrize("leaf", LEAVES, ids=[".".join(map(str, p)) for p in LEAVES])
def test_every_value_lands_in_the_model(leaf: Path) -> None:
    """Changing any one value of the procedure changes the built model."""
    doc = _document()
    original = _build(doc, doc.value)
    changed = copy.deepcopy(doc.value)
    parent = changed
    for part in leaf[:-1]:
        parent = parent[part]
    parent[leaf[-1]] = _changed(parent[leaf[-1]])
    assert _build(doc, changed) != original


def _without_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value


def test_schema_actions_are_the_builtin_actions() -> None:
    """$defs.action names exactly the built-in actions of the registry."""
    declared = set(load_schema("procedure.schema.json")["$defs"]["action"]["properties"])
    assert declared == {spec.name for spec in BUILTINS}
    assert declared <= set(default_registry().names())


@pytest.mark.parametrize("spec", BUILTINS, ids=[s.name for s in BUILTINS])
def test_schema_action_parameters_match_the_registry(spec: Any) -> None:
    """Each action's parameters in the schema are the registry's (descriptions aside)."""
    in_schema = load_schema("procedure.schema.json")["$defs"]["action"]["properties"][spec.name]
    assert _without_descriptions(in_schema) == _without_descriptions(dict(spec.params_schema))
