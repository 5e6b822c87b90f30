"""Candidate slates: the 差额 margin, uncontested posts, ballot order, officials (R6–R11).

* R6 committee members are contested: ``candidates >= seats + ceil(seats/5)``.
* R7 secretary and deputy are uncontested (等额): exactly as many candidates as seats.
* R8 committee candidates appear by the strokes of the surname (姓氏笔画): fewer
  strokes first; equal counts are ordered by the shapes of successive strokes in
  the order 一 丨 丿 丶 乛, then by the next character; a name that runs out of
  characters sorts first. Secretary candidates keep the order the upper
  organisation approved.
* R10–R11 scrutineers (监票人) and counters (计票人, [D]) must not be candidates.

Stroke data come from a ``StrokeSource``. The default reads the stroke sequences of
20,976 characters in the GF 3002-1999 stroke order (strokes as digits 1 横 2 竖 3 撇
4 点 5 折) vendored in ``engine/governance/data/strokes.txt.gz`` from the ISC-licensed
``chinese-character-strokes`` 0.0.3 (provenance, checksums and licence in the NOTICE
beside it); the number of strokes is the length of the sequence, so count and shapes
come from one table and cannot disagree.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, Protocol

from engine.governance.errors import GovernanceError

Contest = Literal["contested", "uncontested"]
Order = Literal["strokes", "approved"]
SHAPES = "一丨丿丶乛"


class StrokeSource(Protocol):
    """Where stroke sequences come from: digits 1–5 for 一 丨 丿 丶 乛, in writing order."""

    def strokes(self, char: str) -> str | None:
        """The character's stroke sequence, or None when the source does not know it."""
        ...


@dataclass(frozen=True, slots=True)
class VendoredStrokes:
    """The vendored GF 3002-1999 stroke table (``data/strokes.txt.gz``, see its NOTICE)."""

    def strokes(self, char: str) -> str | None:
        """The stroke digits of ``char`` (e.g. 王 → ``1121``), or None."""
        return _vendored_table().get(char)


@cache
def _vendored_table() -> dict[str, str]:
    # One line per character: the character (one code point), then its digits.
    packed = resources.files("engine.governance").joinpath("data", "strokes.txt.gz").read_bytes()
    text = gzip.decompress(packed).decode("utf-8")
    return {line[0]: line[1:] for line in text.splitlines() if len(line) > 1}


DEFAULT_SOURCE: StrokeSource = VendoredStrokes()


def min_candidates(seats: int) -> int:
    """R6: ``seats + ceil(seats/5)`` (7 seats → 9 candidates, 5 → 6, 1 → 2)."""
    return seats + -(-seats // 5)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlateCheck:
    """Whether a post's candidate count fits its rule (R6 or R7), explained."""

    post: str
    contest: Contest
    seats: int
    candidates: int
    required: int
    ok: bool
    explanation: str

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "post": self.post,
            "contest": self.contest,
            "seats": self.seats,
            "candidates": self.candidates,
            "required": self.required,
            "ok": self.ok,
            "explanation": self.explanation,
        }


def check_slate(*, post: str, seats: int, candidates: int, contest: Contest) -> SlateCheck:
    """R6 for contested posts (at least ``min_candidates``), R7 for uncontested ones (equal).

    Raises:
        GovernanceError: for fewer than one seat or an unknown contest kind.
    """
    if seats < 1:
        raise GovernanceError(f"a post has at least 1 seat, not {seats}")
    if contest == "contested":
        required = min_candidates(seats)
        ok = candidates >= required
        rule = f"差额选举: 候选人应不少于 {seats} + ⌈{seats}/5⌉ = {required} 名"
    elif contest == "uncontested":
        required = seats
        ok = candidates == seats
        rule = f"等额选举: 候选人应等于应选 {seats} 名"
    else:
        raise GovernanceError(f"contest is 'contested' or 'uncontested', not {contest!r}")
    verdict = "符合" if ok else "不符合"
    return SlateCheck(
        post=post,
        contest=contest,
        seats=seats,
        candidates=candidates,
        required=required,
        ok=ok,
        explanation=f"{post}: {rule}; 现有 {candidates} 名: {verdict}",
    )


def stroke_key(name: str, source: StrokeSource = DEFAULT_SOURCE) -> tuple[tuple[int, str], ...]:
    """R8's sort key: per character (stroke count, stroke digits).

    Comparing the tuples compares the first character's count, then its strokes'
    shapes one by one (the digits 1–5 are 一 丨 丿 丶 乛, in that order), then the
    next character; a shorter name that matches so far sorts first.

    Raises:
        GovernanceError: when the source has no strokes for a character.
    """
    key = []
    for char in name:
        digits = source.strokes(char)
        if digits is None:
            raise GovernanceError(
                f"ballot order by strokes: no stroke data for {char!r} in {name!r}; "
                "give the approved order instead"
            )
        key.append((len(digits), digits))
    return tuple(key)


def describe_strokes(name: str, source: StrokeSource = DEFAULT_SOURCE) -> str:
    """``王(4画 一一丨一)`` for the first character, for explanations."""
    if not name:
        return ""
    digits = source.strokes(name[0]) or ""
    shapes = "".join(SHAPES[int(d) - 1] for d in digits)
    return f"{name[0]}({len(digits)}画 {shapes})"


@dataclass(frozen=True, slots=True, kw_only=True)
class BallotOrder:
    """The order names are printed on the ballot, and why."""

    names: tuple[str, ...]
    order: Order
    explanation: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "names": list(self.names),
            "order": self.order,
            "explanation": list(self.explanation),
        }


def ballot_order(
    names: Sequence[str],
    *,
    order: Order = "strokes",
    approved: Sequence[str] = (),
    source: StrokeSource = DEFAULT_SOURCE,
) -> BallotOrder:
    """R8: order candidates by surname strokes, or keep the upper organisation's order.

    Args:
        names: full names (surname first).
        order: ``strokes`` or ``approved``.
        approved: the approved order, required for ``approved``; must hold the same names.
        source: stroke data.

    Raises:
        GovernanceError: for repeated names, a missing or different approved list,
            or a character the stroke source does not know.
    """
    if len(set(names)) != len(names):
        raise GovernanceError(f"ballot order: names repeat: {list(names)}")
    if order == "approved":
        if sorted(approved) != sorted(names):
            raise GovernanceError(
                f"ballot order: the approved order {list(approved)} must hold exactly "
                f"the candidates {list(names)}"
            )
        return BallotOrder(
            names=tuple(approved), order="approved", explanation=("候选人按上级批准的顺序排列",)
        )
    if order != "strokes":
        raise GovernanceError(f"ballot order is 'strokes' or 'approved', not {order!r}")
    keyed = sorted(names, key=lambda n: stroke_key(n, source))
    lines = ["候选人按姓氏笔画排序 (笔画少者在前; 同画数按笔形 一丨丿丶乛; 再比下一字)"]
    lines.extend(describe_strokes(n, source) + f" {n}" for n in keyed)
    return BallotOrder(names=tuple(keyed), order="strokes", explanation=tuple(lines))


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficialsCheck:
    """R10–R11: scrutineers and counters who are also candidates (there must be none)."""

    conflicts: tuple[tuple[str, str], ...]
    ok: bool
    explanation: str

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "conflicts": [{"name": n, "role": r} for n, r in self.conflicts],
            "ok": self.ok,
            "explanation": self.explanation,
        }


def check_officials(
    *, candidates: Iterable[str], scrutineers: Iterable[str], counters: Iterable[str] = ()
) -> OfficialsCheck:
    """R10–R11 ([D] counters too): no scrutineer or counter may be a candidate."""
    standing = set(candidates)
    conflicts = tuple(
        (name, role)
        for role, people in (("scrutineer", scrutineers), ("counter", counters))
        for name in people
        if name in standing
    )
    if conflicts:
        text = "候选人不得担任监票人或计票人: " + "、".join(
            f"{n}({'监票人' if r == 'scrutineer' else '计票人'})" for n, r in conflicts
        )
    else:
        text = "监票人、计票人均不是候选人"
    return OfficialsCheck(conflicts=conflicts, ok=not conflicts, explanation=text)
