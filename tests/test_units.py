"""Specification: organisational unit paths (县/镇/村) and which scope covers which unit."""

from __future__ import annotations

import pytest

from engine.units import MAX_UNIT_DEPTH, MAX_UNIT_LENGTH, InvalidUnit, check_unit, covered, covers


@pytest.mark.parametrize(
    ("scope", "unit", "expected"),
    [
        ("柳河县", "柳河县", True),
        ("柳河县", "柳河县/城关镇", True),
        ("柳河县", "柳河县/城关镇/柳树村", True),
        ("柳河县/城关镇", "柳河县", False),
        ("柳河县/城关", "柳河县/城关镇", False),
        ("柳河县/城关镇", "柳河县/城关镇村", False),
        ("柳河县", "", False),
        ("", "", False),
        ("", "柳河县", False),
    ],
)
def test_a_scope_covers_itself_and_what_lies_under_it_by_whole_parts(
    scope: str, unit: str, expected: bool
) -> None:
    """covers: the same unit or a descendant, compared part by part; "" covers nothing."""
    assert covers(scope, unit) is expected


def test_no_scope_list_means_every_unit_and_an_empty_one_none() -> None:
    """covered: None is unrestricted (even the case with no unit); () covers nothing."""
    assert covered(None, "") and covered(None, "柳河县/城关镇")
    assert not covered((), "柳河县")
    assert covered(("甲县", "乙县"), "乙县/某镇")


def test_unit_paths_at_their_limits() -> None:
    """check_unit: exactly 200 characters and 8 parts pass; one more of either is refused."""
    longest = "字" * MAX_UNIT_LENGTH
    deepest = "/".join("部" for _ in range(MAX_UNIT_DEPTH))

    assert check_unit(longest) == longest
    assert check_unit(deepest) == deepest
    assert check_unit("") == ""
    assert check_unit("县 名/镇") == "县 名/镇"  # an inner space is part of a name
    with pytest.raises(InvalidUnit):
        check_unit(longest + "字")
    with pytest.raises(InvalidUnit):
        check_unit(deepest + "/部")


@pytest.mark.parametrize("bad", ["/", "县/", "/县", "县//村", " 县", "县 ", "县\t镇", "县\u2028"])
def test_malformed_unit_paths_are_refused(bad: str) -> None:
    """check_unit: empty parts, surrounding spaces, control and line separators are refused."""
    with pytest.raises(InvalidUnit):
        check_unit(bad)
