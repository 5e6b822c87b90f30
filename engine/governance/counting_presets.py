"""The party-election rules as presets of the general counting vocabulary.

The election of a party organisation's committee, secretary and deputy follows the
中国共产党基层组织选举工作条例 (2020), which replaced the 暂行条例 of 1990; the local
documents behind the bundled elections were written under the 1990 text. Both are
stated here as data of the counting vocabulary (``counting_rule``), nothing more: a
procedure writes ``counting: {委员选举: {preset: party-election-2020, seats: 7}}``
and its record speaks the rulebook's words, the words below, never internal rule
numbers. Any key the procedure writes beside ``preset`` replaces the preset's key;
``words`` and ``invalid_reasons`` are merged word by word.

The two texts differ in one thing: who the "more than half" is of. The 1990 text and
the local documents count the approvals against those present (实到会有选举权的人);
the 2020 text against those expected (应到会有选举权的人). Both:

* ballots: approve up to the seats, a ballot approving more is invalid, a blank is
  valid; names written in count and an elected one is reported for review;
* returned ballots above those who voted void the vote, which is held again;
* more elected than seats: most votes first; a tie at the last seat is re-voted
  among the tied, where most votes win;
* fewer elected than seats: a further round (另行选举) for the unfilled seats among
  the non-elected with most votes, with a margin (差额) of ⌈shortfall/5⌉ more names,
  by the same rule; or, when the number elected is close to the seats, the meeting
  may reduce the seats with the agreement of more than half of those present
  (大会征得多数选举人同意), never below one seat.

docs/rules.md gives the rules and their sources (party elections); docs/counting.md
lists the presets, generated from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_COMMON: Mapping[str, Any] = {
    "form": "approval",
    "ties": "revote",
    "further_round": {"extra": "1/5"},
    "write_ins": "review",
    "blank": "valid",
    "invalid_reasons": {
        "signed": "署名",
        "unreadable": "无法辨认",
        "torn": "破损",
        "over_marked": "所选人数多于应选人数",
        "marked": "作其他记号",
        "other": "其他",
    },
    "seat_reduction": {
        "adopt": {"base": "present", "more_than": "1/2", "label": "大会征得多数选举人同意"},
        "floor": 1,
    },
}

_WORDS: Mapping[str, str] = {
    "registered": "有选举权的党员",
    "expected": "应到会有选举权的人数",
    "present": "实到会有选举权的人数",
    "voters": "投票人数",
    "issued": "发出选票",
    "returned": "收回选票",
    "valid": "有效票",
    "invalid": "无效票",
    "blank": "空白票",
    "votes": "赞成票",
    "yes": "赞成",
    "no": "不赞成",
    "abstain": "弃权",
    "elected": "当选",
    "tie": "得票相等",
    "revote": "就票数相等的被选举人再次投票，得票多的当选",
    "shortfall": "当选人少于应选名额",
    "further_round": "对不足的名额另行选举，候选人",
    "void": "选举收回的选票多于投票人数，选举无效，应当重新选举",
    "seat_reduction": "接近应选名额，大会表决减少名额",
    "reduction_adopted": "大会同意减少名额，不再进行选举",
    "reduction_rejected": "减少名额未获大会同意，对不足的名额另行选举",
}


def _preset(title: str, base: str, base_words: str) -> dict[str, Any]:
    return {
        **_COMMON,
        "label": "选举",
        "basis": f"{title}：被选举人获得的赞成票超过{base_words}的一半，始得当选",
        "decide": {
            "threshold": {
                "base": base,
                "more_than": "1/2",
                "label": f"赞成票超过{base_words}的一半",
            }
        },
        "words": dict(_WORDS),
    }


PRESETS: Mapping[str, Mapping[str, Any]] = {
    "party-election-1990": _preset(
        "中国共产党基层组织选举工作暂行条例（1990）", "present", "实到会有选举权的人数"
    ),
    "party-election-2020": _preset(
        "中国共产党基层组织选举工作条例（2020）", "expected", "应到会有选举权的人数"
    ),
}
"""Each preset by name: a counting rule's keys, in the rulebook's words."""

MERGED_KEYS: tuple[str, ...] = ("words", "invalid_reasons")
"""Keys a rule merges word by word with its preset's; every other key replaces the preset's."""


def with_preset(raw: Mapping[str, Any], preset: Mapping[str, Any]) -> dict[str, Any]:
    """The preset's keys with the rule's own over them (``preset`` itself left out)."""
    out = dict(preset)
    for key, value in raw.items():
        if key == "preset":
            continue
        base = out.get(key)
        if key in MERGED_KEYS and isinstance(base, Mapping) and isinstance(value, Mapping):
            out[key] = {**base, **value}
        else:
            out[key] = value
    return out


__all__ = ["MERGED_KEYS", "PRESETS", "with_preset"]
