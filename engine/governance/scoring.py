"""三票制 weighted layered scoring, exact, with selectable rules (docs/rules.md, 三票制).

Each layer's rate is ``yes ÷ N × 100`` where N is the layer's *declared*
denominator — ballots cast, members present, or the roster — kept as an exact
``Fraction``; the composite is ``Σ weight × rate`` with weights (trust included)
that must sum to exactly 1. The trust vote (信任度测评) is a gate (``≥ 1/2`` to go
on) and, in the 三票制 pilot, a 10 % weight. Rounding happens only for display (2 places,
half-up): the pilot's puzzle, 32 yes of 33 cast = 96.97 against 19 of 19 = 100.00,
is reproduced by the ``ballots_cast`` denominator, and ``compare_rules`` scores the
same recorded ballots under other rules so staff can see what a choice changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from engine.governance.errors import GovernanceError
from engine.governance.ranking import TieRule, rank_top
from engine.guards.arithmetic import Operator, compare, show_rounded

Denominator = Literal["ballots_cast", "present", "roster"]
DENOMINATORS: tuple[Denominator, ...] = ("ballots_cast", "present", "roster")
TRUST = "trust"
_DENOMINATOR_LABELS = {"ballots_cast": "投票数", "present": "到会人数", "roster": "应参加人数"}


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerCount:
    """One candidate's recorded ballots in one layer (or in the trust vote)."""

    yes: int
    ballots_cast: int
    present: int | None = None
    roster: int | None = None

    def base(self, denominator: Denominator) -> int:
        """The declared denominator's value.

        Raises:
            GovernanceError: when it was not recorded, is zero, or is below the yes votes.
        """
        value = {"ballots_cast": self.ballots_cast, "present": self.present, "roster": self.roster}[
            denominator
        ]
        if value is None or value <= 0:
            raise GovernanceError(
                f"三票制 scoring: the {denominator} count is needed and must be positive"
            )
        if self.yes < 0 or self.yes > value:
            raise GovernanceError(
                f"三票制 scoring: {self.yes} yes votes do not fit {denominator} = {value}"
            )
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerRule:
    """A layer, its weight and its denominator."""

    layer: str
    weight: Fraction
    denominator: Denominator = "ballots_cast"
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustRule:
    """The trust vote: a gate (``gate_operator gate`` of the denominator) and a weight."""

    weight: Fraction = Fraction(1, 10)
    gate: Fraction = Fraction(1, 2)
    gate_operator: Operator = "at_least"
    denominator: Denominator = "ballots_cast"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoringRule:
    """A complete rule: layers, trust, how many are selected and the tie rule.

    Raises:
        GovernanceError: (on construction) when the weights do not sum to exactly 1,
            a layer repeats, or a weight is negative.
    """

    name: str
    layers: tuple[LayerRule, ...]
    trust: TrustRule | None = TrustRule()
    top: int = 5
    tie_rule: TieRule = "revote"

    def __post_init__(self) -> None:
        names = [layer.layer for layer in self.layers]
        if len(set(names)) != len(names) or TRUST in names:
            raise GovernanceError(
                f"三票制 scoring: layer names must be distinct and not {TRUST!r}: {names}"
            )
        weights = [layer.weight for layer in self.layers]
        if self.trust is not None:
            weights.append(self.trust.weight)
        if any(w < 0 for w in weights):
            raise GovernanceError(
                f"三票制 scoring: weights cannot be negative: {[str(w) for w in weights]}"
            )
        total = sum(weights, Fraction(0))
        if total != 1:
            raise GovernanceError(
                f"三票制 scoring: the weights "
                f"{' + '.join(_fraction_text(w) for w in weights)} sum to "
                f"{_fraction_text(total)}, not exactly 1"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerScore:
    """One layer's rate and its weighted part."""

    layer: str
    yes: int
    denominator: Denominator
    base: int
    rate: Fraction
    weight: Fraction

    @property
    def weighted(self) -> Fraction:
        """``weight × rate``."""
        return self.weight * self.rate

    def record(self) -> dict[str, Any]:
        """JSON-ready form: exact fractions as strings, with the 2-place display."""
        return {
            "layer": self.layer,
            "yes": self.yes,
            "denominator": self.denominator,
            "base": self.base,
            "rate": _fraction_text(self.rate),
            "rate_display": show_rounded(self.rate),
            "weight": _fraction_text(self.weight),
            "weighted": _fraction_text(self.weighted),
        }


def layer_rate(count: LayerCount, denominator: Denominator) -> Fraction:
    """``yes ÷ N × 100`` exactly (32 of 33 → 3200/33, shown 96.97)."""
    return Fraction(100 * count.yes, count.base(denominator))


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateScore:
    """A candidate's layer scores, trust result and composite."""

    name: str
    layers: tuple[LayerScore, ...]
    trust: LayerScore | None
    trust_passed: bool
    composite: Fraction

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "layers": [s.record() for s in self.layers],
            "trust": self.trust.record() if self.trust else None,
            "trust_passed": self.trust_passed,
            "composite": _fraction_text(self.composite),
            "composite_display": show_rounded(self.composite),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Scoring:
    """Every candidate scored under one rule, ranked, with the selection."""

    rule: str
    scores: tuple[CandidateScore, ...]
    gated_out: tuple[str, ...]
    selected: tuple[str, ...]
    tied: tuple[str, ...]
    open_places: int
    explanation: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "scores": [s.record() for s in self.scores],
            "gated_out": list(self.gated_out),
            "selected": list(self.selected),
            "tied": list(self.tied),
            "open_places": self.open_places,
            "explanation": list(self.explanation),
        }


def score_candidate(
    rule: ScoringRule, name: str, counts: Mapping[str, LayerCount]
) -> CandidateScore:
    """Score one candidate; the composite is exact and independent of layer order.

    Raises:
        GovernanceError: when a layer (or the trust vote) has no recorded count.
    """
    missing = [r.layer for r in rule.layers if r.layer not in counts]
    if rule.trust is not None and TRUST not in counts:
        missing.append(TRUST)
    if missing:
        raise GovernanceError(f"三票制 scoring: {name} has no recorded ballots for {missing}")
    layers = tuple(
        LayerScore(
            layer=r.layer,
            yes=counts[r.layer].yes,
            denominator=r.denominator,
            base=counts[r.layer].base(r.denominator),
            rate=layer_rate(counts[r.layer], r.denominator),
            weight=r.weight,
        )
        for r in rule.layers
    )
    trust: LayerScore | None = None
    passed = True
    if rule.trust is not None:
        count = counts[TRUST]
        base = count.base(rule.trust.denominator)
        trust = LayerScore(
            layer=TRUST,
            yes=count.yes,
            denominator=rule.trust.denominator,
            base=base,
            rate=layer_rate(count, rule.trust.denominator),
            weight=rule.trust.weight,
        )
        passed = compare(count.yes, rule.trust.gate_operator, rule.trust.gate * base)
    parts = [s.weighted for s in layers] + ([trust.weighted] if trust else [])
    return CandidateScore(
        name=name,
        layers=layers,
        trust=trust,
        trust_passed=passed,
        composite=sum(parts, Fraction(0)),
    )


def score(rule: ScoringRule, ballots: Mapping[str, Mapping[str, LayerCount]]) -> Scoring:
    """Score, gate, rank and select under ``rule`` (top ``rule.top``, ties by ``rule.tie_rule``).

    Args:
        rule: the scoring rule.
        ballots: candidate → layer (and ``trust``) → recorded counts.

    Raises:
        GovernanceError: for a missing layer or an impossible count.
    """
    scored = [score_candidate(rule, name, counts) for name, counts in ballots.items()]
    gated_out = tuple(s.name for s in scored if not s.trust_passed)
    eligible = [s for s in scored if s.trust_passed]
    ranked = rank_top([(s.name, s.composite) for s in eligible], rule.top, rule.tie_rule)
    by_name = {s.name: s for s in scored}
    ordered = tuple(by_name[n] for n in ranked.order) + tuple(by_name[n] for n in gated_out)
    lines = [f"规则 {rule.name}: 取前 {rule.top} 名, 并列时 {rule.tie_rule}"]
    for s in ordered:
        parts = ", ".join(
            f"{p.layer} {p.yes}/{p.base}={show_rounded(p.rate)}×{_fraction_text(p.weight)}"
            for p in (*s.layers, *((s.trust,) if s.trust else ()))
        )
        gate = "" if s.trust_passed else " — 信任度未达门槛, 不参加结构推荐"
        lines.append(f"{s.name}: {parts}; 综合 {show_rounded(s.composite)}{gate}")
    if ranked.tied:
        lines.append(f"并列: {'、'.join(ranked.tied)} 争 {ranked.open_places} 个名额, 再投票")
    return Scoring(
        rule=rule.name,
        scores=ordered,
        gated_out=gated_out,
        selected=ranked.selected,
        tied=ranked.tied,
        open_places=ranked.open_places,
        explanation=tuple(lines),
    )


def compare_rules(
    rules: Sequence[ScoringRule], ballots: Mapping[str, Mapping[str, LayerCount]]
) -> tuple[Scoring, ...]:
    """The same recorded ballots under each rule, for staff to compare (docs/rules.md, 三票制)."""
    return tuple(score(rule, ballots) for rule in rules)


SEED_RULE = ScoringRule(
    name="seed-2004",
    layers=(
        LayerRule(layer="A", weight=Fraction(3, 10), label="区及以上党代表"),
        LayerRule(layer="B", weight=Fraction(2, 10), label="镇机关干部"),
        LayerRule(layer="C", weight=Fraction(2, 10), label="村民代表"),
        LayerRule(layer="D", weight=Fraction(2, 10), label="领导小组成员"),
    ),
    trust=TrustRule(),
    top=5,
)
