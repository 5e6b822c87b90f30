"""Reference pages generated from the code: every action and every guard kind.

docs/actions.md, docs/guards.md and docs/counting.md are written by this module, never by hand, so
they cannot drift from what the engine accepts: parameters and their descriptions
come from each action's parameter schema in the registry, guard kinds from the
guard-kind registry (engine.guards.registry), the keys of a counting rule from the
procedure schema, and every example is a real call taken
from a bundled procedure (or, for an action no bundled procedure uses, the example
its spec declares). A test
regenerates the pages and compares them with the committed files.

Run ``python -m engine.reference [procedures-dir] [docs-dir]`` from the repository
root to rewrite them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.actions.registry import BUILTINS, ActionSpec
from engine.definition.strict_yaml import parse_yaml
from engine.governance.counting import STATUSES
from engine.governance.counting_presets import MERGED_KEYS, PRESETS
from engine.guards.registry import GUARD_KINDS
from engine.schemas import load_schema

_SHAPES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "set": ("the value, at `path`; the output is {path, value}", ()),
    "append": ("the value appended to the list at `path`; output {path, value, length}", ()),
    "increment": ("the integer at `path` plus `by`; output {path, value}", ()),
    "tally_round": (
        "{round, kind, status, seats, candidates, base, write_ins, voters, expected, issued, "
        "returned, void, valid, invalid, invalid_by_reason, blank, ignored_write_ins, threshold "
        "{operator, fraction, base, bound, bound_display}, counts [{name, approve, disapprove, "
        "abstain, write_in, passed}], elected, tied, tie_places, shortfall, further_candidates, "
        "needs_approval, written_in, explanation}",
        ("complete", "void", "tie", "shortfall"),
    ),
    "reduce_seats": (
        "{seats, elected, proposed_seats, floor, yes, present, rule {operator, fraction, bound, "
        "bound_display}, adopted, explanation}",
        (),
    ),
    "score_layers": (
        "{rule, scores [{name, layers [{layer, yes, denominator, base, rate, rate_display, "
        "weight, weighted}], trust, trust_passed, composite, composite_display}], gated_out, "
        "selected, tied, open_places, explanation}",
        (),
    ),
    "rank": ("{order, selected, tied, open_places, tie_rule, explanation}", ()),
    "record_exclusion": (
        "appends {member, ground, ground_label, upper_consent, meeting_vote, note} to the list",
        (),
    ),
    "count_attendance": (
        "{rule_set, voters, excluded, expected, present, absent, non_voting_present, guests, "
        "explanation}",
        (),
    ),
    "check_slate": (
        "per post {post, contest, seats, candidates, required, ok, explanation}, with the "
        "ballot order {names, order, explanation} and any teller conflicts",
        (),
    ),
    "check_eligibility": ("{ok, explanation, …} per nominee, by the stated conditions", ()),
    "survey_rate": (
        "{numerator, base, k, n, rate, percent_display, barred_from_awards, explanation}",
        (),
    ),
}
"""What each built-in action writes and the ``status`` values it records, where its spec
does not say (``count_vote`` declares its own)."""


_LEGACY: Mapping[str, str] = {
    "tally_round": (
        "tally_round: {candidates: data.ballot.candidates, seats: data.ballot.seats, ballots: "
        "payload.ballots, voters: data.attendance.present, issued: payload.issued, base: "
        "present, write_ins: review, kind: regular, round: data.ballot.round, into: data.round}"
    ),
    "reduce_seats": (
        "reduce_seats: {round: data.round, proposed_seats: size(data.round.elected), yes: "
        "payload.yes, present: data.attendance.present, more_than: '1/2', floor: 3, expects: "
        "adopted, into: data.reduction}"
    ),
}
"""The party-election actions no bundled procedure calls any more, with a call as the
procedures that used them wrote it."""


def guard_kinds() -> tuple[str, ...]:
    """Every guard kind of the registry, in the order the procedure schema offers them."""
    return tuple(kind.name for kind in GUARD_KINDS)


def _walk(node: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def bundled_examples(procedures: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first call of each action and the first guard of each kind in the bundled files.

    Files are read in name order, so the choice is stable.
    """
    actions: dict[str, Any] = {}
    guards: dict[str, Any] = {}
    kinds = guard_kinds()
    for path in sorted(procedures.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for event in doc.get("events", {}).values():
            for transition in event.get("transitions", ()):
                for call in transition.get("actions", ()):
                    ((name, params),) = call.items()
                    actions.setdefault(name, ({name: params}, path.name))
                for guard in transition.get("guards", ()):
                    for kind in (k for k in kinds if k in guard):
                        guards.setdefault(kind, (guard, path.name))
    return actions, guards


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=88).rstrip()


def _type_of(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(f"`{v}`" for v in schema["enum"])
    if "oneOf" in schema or "anyOf" in schema:
        branches = schema.get("oneOf") or schema.get("anyOf") or []
        return " or ".join(_type_of(b) for b in branches)
    if schema.get("pattern") == "^[0-9]+/[1-9][0-9]*$":
        return 'fraction "p/q"'
    kind = schema.get("type", "any")
    return str(kind) if not isinstance(kind, list) else " or ".join(kind)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _action_section(spec: ActionSpec, example: tuple[Any, str] | None) -> list[str]:
    schema = spec.params_schema
    required = set(schema.get("required", ()))
    lines = [f"## `{spec.name}`", "", spec.description[0].upper() + spec.description[1:] + ".", ""]
    lines += ["| parameter | required | type | CEL | description |", "|---|---|---|---|---|"]
    for key, prop in schema.get("properties", {}).items():
        lines.append(
            f"| `{key}` | {'yes' if key in required else 'no'} | {_cell(_type_of(prop))} | "
            f"{'yes' if key in spec.expressions else 'no'} | {_cell(prop.get('description', ''))} |"
        )
    lines.append("")
    if "oneOf" in schema:
        options = [" + ".join(f"`{k}`" for k in b.get("required", ())) for b in schema["oneOf"]]
        lines += [f"Exactly one of: {', '.join(options)}.", ""]
    shape, statuses = _SHAPES.get(spec.name, (spec.writes_shape, spec.statuses))
    if spec.writes:
        lines += [f"**Writes** to the `{spec.writes}` path: {shape or 'its output'}.", ""]
    statuses = spec.statuses or statuses
    if statuses:
        lines += ["**Status values**: " + ", ".join(f"`{s}`" for s in statuses) + ".", ""]
    if spec.rule:
        lines += [
            f"**Rule**: `{spec.rule}` names a rule under the procedure's top-level `counting`; "
            "`validate` reports a name the procedure does not state.",
            "",
        ]
    if example is not None:
        call, source = example
        lines += [f"Example (from `procedures/{source}`):", "", "```yaml", _yaml([call]), "```", ""]
    elif spec.example or spec.name in _LEGACY:
        lines += ["Example:", "", "```yaml", f"- {spec.example or _LEGACY[spec.name]}", "```", ""]
    if spec.name in _LEGACY:
        lines += [
            "Kept, unchanged, so that trails recorded under older procedure texts still replay; "
            "it writes rules.md's rule numbers into its record. A new procedure counts with "
            "`count_vote` (and `decide_seat_reduction`), a counting rule and, for party "
            "elections, a preset (counting.md).",
            "",
        ]
    return lines


def actions_page(examples: Mapping[str, Any]) -> str:
    """docs/actions.md: every built-in action."""
    lines = [
        "# Actions",
        "",
        "<!-- Generated by `python -m engine.reference`; do not edit by hand. -->",
        "",
        "A transition runs its actions in order after its guards hold. Each action reads its",
        "inputs (literal values or CEL expressions over `data`, `payload`, `actor` and `now`),",
        "writes its result to the case data and returns it, so the audit record carries it.",
        "A value an action refuses makes the whole attempt refused (`action-failed`), and",
        "nothing of it is recorded in the case data.",
        "",
        "Counting rules (`count_vote`) are stated under the procedure's top-level `counting`",
        "key; their status values are " + ", ".join(f"`{s}`" for s in STATUSES) + ".",
        "",
        "Contents: " + ", ".join(f"[`{s.name}`](#{s.name})" for s in BUILTINS) + ".",
        "",
    ]
    for spec in BUILTINS:
        lines += _action_section(spec, examples.get(spec.name))
    return "\n".join(lines).rstrip() + "\n"


def guards_page(examples: Mapping[str, Any]) -> str:
    """docs/guards.md: every guard kind of the registry, from its schema branch."""
    lines = [
        "# Guards",
        "",
        "<!-- Generated by `python -m engine.reference`; do not edit by hand. -->",
        "",
        "A transition runs only when every guard holds. Each guard is one entry of one kind;",
        "each records its inputs, its result and an explanation in the audit record. Counts",
        'are integers or CEL expressions; fractions are exact (`"2/3"`), never decimals.',
        "",
    ]
    for guard_kind in GUARD_KINDS:
        kind, branch = guard_kind.name, guard_kind.schema
        lines += [f"## `{kind}`", "", branch.get("description", ""), ""]
        body = branch["properties"][kind]
        props = body.get("properties") if body.get("type") == "object" else None
        if props is None:
            props = {k: v for k, v in branch["properties"].items()}
            required = set(branch.get("required", ()))
        else:
            required = set(body.get("required", ()))
        lines += ["| key | required | type | description |", "|---|---|---|---|"]
        for key, prop in props.items():
            lines.append(
                f"| `{key}` | {'yes' if key in required else 'no'} | {_cell(_type_of(prop))} | "
                f"{_cell(prop.get('description', ''))} |"
            )
        lines.append("")
        if kind in examples:
            guard, source = examples[kind]
            lines += [
                f"Example (from `procedures/{source}`):",
                "",
                "```yaml",
                _yaml([guard]),
                "```",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def _keys_table(schema: Mapping[str, Any], node: Mapping[str, Any]) -> list[str]:
    required = set(node.get("required", ()))
    lines = ["| key | required | type | description |", "|---|---|---|---|"]
    for key, prop in node.get("properties", {}).items():
        target = prop
        if "$ref" in prop:
            target = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
        lines.append(
            f"| `{key}` | {'yes' if key in required else 'no'} | {_cell(_type_of(target))} | "
            f"{_cell(target.get('description', prop.get('description', '')))} |"
        )
    return [*lines, ""]


def counting_page(procedures: Path) -> str:
    """docs/counting.md: the keys of a counting rule, and the bundled rules as examples."""
    schema = load_schema("procedure.schema.json")
    defs = schema["$defs"]
    lines = [
        "# Counting rules",
        "",
        "<!-- Generated by `python -m engine.reference`; do not edit by hand. -->",
        "",
        "A procedure states how each of its votes is counted under the top-level `counting`",
        "key, one named rule per vote, and the `count_vote` action applies a rule by name",
        "(see actions.md). Every word the record of a count carries comes from the rule:",
        "its `label`, its `basis` and its `words`; where a word is not given a neutral one is",
        "used. Arithmetic is exact: bounds are fractions of an integer base.",
        "",
        "## A rule",
        "",
        *_keys_table(schema, defs["counting_rule"]),
        "A rule names its `label` and `form`, or a `preset` (see Presets) that gives them.",
        "`decide` holds `threshold` (a share of a base) or `most_votes` (with an optional",
        "`floor`, a share of a base), never both.",
        "",
        "The bases: `registered` (登记的选民), `expected` (应到), `present` (those who voted in",
        "person), `voters` (present plus proxy votes: those who voted), `returned` (ballots",
        "returned, valid and invalid) and `valid` (valid ballots). The counts of people are",
        "given to `count_vote`; the ballot counts come from the ballots. Returned ballots",
        "above those issued or above the voters make the vote `void`; valid + invalid =",
        "returned always holds in the record, and invalid ballots are kept by reason.",
        "",
    ]
    for name, title in (
        ("turnout_share", "Turnout (`turnout`)"),
        ("decide_share", "A bound on votes (`threshold`, `floor`)"),
        ("finding", "A finding of a grades vote (`findings`)"),
        ("counting_decide", "How an election is decided (`decide`, `further_round.decide`)"),
        ("reduction_share", "Adopting a seat reduction (`seat_reduction.adopt`)"),
    ):
        lines += [
            f"## {title}",
            "",
            defs[name]["description"],
            "",
            *_keys_table(schema, defs[name]),
        ]
    lines += _preset_lines()
    for path in sorted(procedures.glob("*.yaml")):
        # The strict loader, as yishi reads the file: ``yes:`` stays a word, not true.
        doc = parse_yaml(path.read_text(encoding="utf-8"), path.name).value
        for rule_name, rule in doc.get("counting", {}).items():
            lines += [
                f"## Example: `{rule_name}` (from `procedures/{path.name}`)",
                "",
                "```yaml",
                _yaml({"counting": {rule_name: rule}}),
                "```",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def _preset_lines() -> list[str]:
    """The presets, each in full, so a procedure author sees what a preset says."""
    lines = [
        "## Presets",
        "",
        "A rule may start from a preset: `preset: <name>` and any key beside it replaces",
        "the preset's key, except " + " and ".join(f"`{k}`" for k in MERGED_KEYS) + ", which",
        "are merged word by word. The party-election presets state the election of a party",
        "organisation's committee, secretary and deputy (see rules.md, party elections):",
        "approvals more than half of those present (1990) or of those expected (2020), a",
        "tie at the last seat re-voted among the tied (`count_vote` with `stage: revote`),",
        "a further round for the unfilled seats with a margin of ⌈shortfall/5⌉",
        "(`stage: further`), and the meeting's vote to reduce the seats",
        "(`decide_seat_reduction`).",
        "",
    ]
    for name, preset in PRESETS.items():
        lines += [f"### `{name}`", "", "```yaml", _yaml({name: dict(preset)}), "```", ""]
    return lines


def pages(procedures: Path) -> dict[str, str]:
    """Every generated page by file name, from the bundled procedures in ``procedures``."""
    actions, guards = bundled_examples(procedures)
    return {
        "actions.md": actions_page(actions),
        "guards.md": guards_page(guards),
        "counting.md": counting_page(procedures),
    }


def main(argv: list[str]) -> int:
    """Write docs/actions.md, docs/guards.md and docs/counting.md."""
    procedures = Path(argv[0]) if argv else Path("procedures")
    docs = Path(argv[1]) if len(argv) > 1 else Path("docs")
    for name, text in pages(procedures).items():
        (docs / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
