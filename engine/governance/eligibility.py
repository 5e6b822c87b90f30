"""Eligibility review against published conditions written as data (docs/rules.md).

The leading group's review (一审, 资格审查) checks every nominee against the
conditions the procedure publishes: 正式党员, 年龄42周岁以下, 任副科2年以上或现任正科,
公务员身份 … A condition is data, never code: a rule holds when *all* of its tests
hold (``all_of``) or when any one group of tests holds (``any_of``, each group
all-of). A test reads one recorded fact of the nominee and compares it with
``at_least`` / ``at_most`` (integers; both include the number itself, as 以上 /
以下 do, Civil Code Art. 1259), ``equals`` or ``one_of``. A fact that was not
recorded fails its test with that reason, so nobody passes by omission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.governance.errors import GovernanceError

_OPS = ("at_least", "at_most", "equals", "one_of")


@dataclass(frozen=True, slots=True, kw_only=True)
class Test:
    """One comparison of one fact."""

    fact: str
    op: str
    value: Any

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Test:
        """Read ``{fact, at_least|at_most|equals|one_of}``.

        Raises:
            GovernanceError: for another shape.
        """
        ops = [k for k in _OPS if k in raw]
        if "fact" not in raw or len(ops) != 1 or set(raw) - {"fact", *_OPS}:
            raise GovernanceError(
                f"eligibility: a test is {{fact, one of {list(_OPS)}}}, not {dict(raw)!r}"
            )
        value = raw[ops[0]]
        if ops[0] in ("at_least", "at_most") and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            raise GovernanceError(f"eligibility: {ops[0]} compares integers, not {value!r}")
        return cls(fact=str(raw["fact"]), op=ops[0], value=value)

    def failure(self, facts: Mapping[str, Any]) -> str | None:
        """Why the test fails for these facts, or None when it holds."""
        if self.fact not in facts:
            return f"未提供 {self.fact}"
        got = facts[self.fact]
        if self.op in ("at_least", "at_most"):
            if isinstance(got, bool) or not isinstance(got, int):
                return f"{self.fact} = {got!r}, 不是整数"
            ok = got >= self.value if self.op == "at_least" else got <= self.value
            sign = "≥" if self.op == "at_least" else "≤"
            return None if ok else f"{self.fact} = {got}, 应 {sign} {self.value}"
        if self.op == "equals":
            # bool is an int in Python: True must not equal 1 here.
            ok = type(got) is type(self.value) and got == self.value
            return None if ok else f"{self.fact} = {got!r}, 应为 {self.value!r}"
        ok = any(type(got) is type(v) and got == v for v in self.value)
        return None if ok else f"{self.fact} = {got!r}, 应为 {list(self.value)!r} 之一"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A published condition: all tests of one of its groups hold."""

    id: str
    label: str
    groups: tuple[tuple[Test, ...], ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Rule:
        """Read ``{id, label, all_of: [test]}`` or ``{id, label, any_of: [{all_of: [test]}]}``.

        Raises:
            GovernanceError: for another shape.
        """
        if ("all_of" in raw) == ("any_of" in raw):
            raise GovernanceError(f"eligibility: rule {raw.get('id')!r} needs all_of or any_of")
        groups = [raw["all_of"]] if "all_of" in raw else [g["all_of"] for g in raw["any_of"]]
        return cls(
            id=str(raw["id"]),
            label=str(raw.get("label", raw["id"])),
            groups=tuple(tuple(Test.from_json(t) for t in g) for g in groups),
        )

    def failure(self, facts: Mapping[str, Any]) -> str | None:
        """Why no group holds (each group's first failing test), or None when one does."""
        reasons = []
        for group in self.groups:
            failing = [f for t in group if (f := t.failure(facts)) is not None]
            if not failing:
                return None
            reasons.append("、".join(failing))
        return " 或 ".join(reasons)


def review(
    rules: Sequence[Mapping[str, Any]], nominees: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Check every nominee against every rule; JSON-ready, with reasons and explanation.

    Args:
        rules: the published conditions.
        nominees: ``{name, facts, …}``; other keys (post, route) are kept in the result.

    Returns:
        ``{results: [{name, eligible, failed: [{rule, label, reason}], …}], eligible,
        ineligible, explanation}``.

    Raises:
        GovernanceError: for a malformed rule or nominee, or a name reviewed twice for
            the same post.
    """
    parsed = [Rule.from_json(r) for r in rules]
    if not parsed:
        raise GovernanceError("eligibility: no published conditions to review against")
    results: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    lines = [f"资格条件: {'; '.join(r.label for r in parsed)}"]
    for nominee in nominees:
        if not isinstance(nominee, Mapping) or "name" not in nominee:
            raise GovernanceError(f"eligibility: a nominee is {{name, facts, …}}, not {nominee!r}")
        facts = nominee.get("facts", {})
        if not isinstance(facts, Mapping):
            raise GovernanceError(f"eligibility: {nominee['name']}: facts must be a map")
        key = (str(nominee["name"]), str(nominee.get("post", "")))
        if key in seen:
            raise GovernanceError(f"eligibility: {key[0]} is reviewed twice")
        seen.add(key)
        failed = [
            {"rule": r.id, "label": r.label, "reason": reason}
            for r in parsed
            if (reason := r.failure(facts)) is not None
        ]
        extra = {k: v for k, v in nominee.items() if k != "facts"}
        results.append({**extra, "eligible": not failed, "failed": failed})
        verdict = (
            "符合"
            if not failed
            else "不符合: " + "; ".join(f"{f['label']} ({f['reason']})" for f in failed)
        )
        lines.append(f"{nominee['name']}: {verdict}")
    eligible = [r["name"] for r in results if r["eligible"]]
    ineligible = [r["name"] for r in results if not r["eligible"]]
    lines.append(f"审查 {len(results)} 人: 符合 {len(eligible)} 人, 不符合 {len(ineligible)} 人")
    return {
        "rules": [r.id for r in parsed],
        "results": results,
        "eligible": eligible,
        "ineligible": ineligible,
        "explanation": lines,
    }
