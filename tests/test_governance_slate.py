"""Slates: margin (R6), uncontested posts (R7), stroke order (R8), officials (R10–R11)."""

from __future__ import annotations

import pytest

from engine.governance.errors import GovernanceError
from engine.governance.slate import (
    ballot_order,
    check_officials,
    check_slate,
    describe_strokes,
    min_candidates,
    stroke_key,
)


@pytest.mark.parametrize(
    ("seats", "minimum"), [(1, 2), (3, 4), (5, 6), (6, 8), (7, 9), (10, 12), (11, 14)]
)
def test_r6_min_candidates(seats: int, minimum: int) -> None:
    """R6: seats + ceil(seats/5) (7 seats → 9)."""
    assert min_candidates(seats) == minimum


@pytest.mark.parametrize(("candidates", "ok"), [(8, False), (9, True), (10, True)])
def test_r6_margin_boundary(candidates: int, ok: bool) -> None:
    """R6: 7 seats need 9 candidates: 8 fails, 9 passes."""
    assert check_slate(post="委员", seats=7, candidates=candidates, contest="contested").ok is ok


@pytest.mark.parametrize(("candidates", "ok"), [(0, False), (1, True), (2, False)])
def test_r7_uncontested_means_equal(candidates: int, ok: bool) -> None:
    """R7: secretary uncontested: exactly one candidate for one seat."""
    check = check_slate(post="书记", seats=1, candidates=candidates, contest="uncontested")
    assert check.ok is ok


def test_r8_strokes_from_the_gb13000_table() -> None:
    """R8: counts and shapes come from the stroke table (王 1121, 方 4153, 万 153)."""
    assert stroke_key("王") == ((4, "1121"),)
    assert stroke_key("方") == ((4, "4153"),)
    assert stroke_key("万") == ((3, "153"),)
    assert describe_strokes("王五") == "王(4画 一一丨一)"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # fewer strokes first
        (["赵六", "丁一"], ["丁一", "赵六"]),
        # equal counts (4): shapes 一… before 丶…
        (["方明", "王明"], ["王明", "方明"]),
        # equal counts (7): 李 starts 一, 张 starts 乛
        (["张三", "李四"], ["李四", "张三"]),
        # same surname: the next character decides
        (["王五", "王一"], ["王一", "王五"]),
        # a missing second character sorts first
        (["王一", "王"], ["王", "王一"]),
        (["王一二", "王一"], ["王一", "王一二"]),
    ],
)
def test_r8_ballot_order(names: list[str], expected: list[str]) -> None:
    """R8: surname strokes, then stroke shapes 一丨丿丶乛, then the next character."""
    assert list(ballot_order(names).names) == expected


def test_r8_approved_order_is_kept() -> None:
    """R8: secretary candidates keep the approved order; it must hold the same names."""
    assert ballot_order(["甲", "乙"], order="approved", approved=["乙", "甲"]).names == ("乙", "甲")
    with pytest.raises(GovernanceError):
        ballot_order(["甲", "乙"], order="approved", approved=["乙"])


def test_r8_unknown_character_is_refused() -> None:
    """R8: a name the stroke table cannot order is refused with the character."""
    with pytest.raises(GovernanceError) as caught:
        ballot_order(["Smith", "王"])
    assert "'S'" in str(caught.value)


def test_r10_r11_officials_must_not_be_candidates() -> None:
    """R10–R11: scrutineers, and [D] counters, who stand as candidates are reported."""
    ok = check_officials(candidates=["甲", "乙"], scrutineers=["丙"], counters=["丁"])
    bad = check_officials(candidates=["甲", "乙"], scrutineers=["甲"], counters=["乙"])
    assert ok.ok
    assert not bad.ok
    assert bad.conflicts == (("甲", "scrutineer"), ("乙", "counter"))
