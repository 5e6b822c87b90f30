"""Secret ballots at run time: what a ballot may hold, and the one order ballots are kept in.

An event declared ``secret_ballot: true`` promises that no record links a voter to a
choice (R12). The promise has to hold for what is *recorded*, not only for what the
counting functions read, so two things are checked on the payload before anything of
it reaches a record:

* a ballot (an item of the payload's ``ballots`` list) holds only ``marks``,
  ``write_ins``, ``count`` (a pile of identical ballots) and ``spoiled`` (the reason a
  ballot is invalid), and every value in them is a mark, a count or a reason from a
  fixed vocabulary: there is no place on a ballot where a name of a voter can stand
  beside a choice (names appear only as the keys of ``marks``/``write_ins``, which are
  the candidates);
* the ballots are recorded in one canonical order (sorted by their JSON text), so
  the order in which a teller typed them — which may follow the order voters came up —
  carries nothing.

Who voted (attendance) is a separate field of the payload (``present``, a roster), never
on a ballot. The limits of this secrecy are stated in docs/audit-log.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import orjson

BALLOTS_FIELD: Final = "ballots"
"""The payload field that holds the ballots of a secret-ballot event."""

BALLOT_KEYS: Final = ("marks", "write_ins", "count", "spoiled")
MARK_VALUES: Final = frozenset({"approve", "disapprove", "abstain"})
SPOILED_REASONS: Final = ("signed", "unreadable", "torn", "over_marked", "marked", "other")
"""Why a ballot is invalid: signed by the voter (署名), unreadable (无法辨认), torn
(破损), more approvals than seats (多选), carrying another identifying mark (作记号),
other (其他). A blank ballot is not spoiled: it is valid (R15)."""
_ALLOWED: Final = frozenset(BALLOT_KEYS)
_EMPTY: Final[dict[str, Any]] = {}


def secrecy_violations(payload: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every place where the payload's ballots could carry more than marks.

    Paths name the ballot (``ballots[3]``) or its part (``ballots[3].marks``), never a
    key or value found there, because those may be the very identity being refused.

    Args:
        payload: the payload of a secret-ballot event.

    Returns:
        ``[{"path": …, "message": …}]``, empty when every ballot holds marks only.
    """
    ballots = payload.get(BALLOTS_FIELD)
    if not isinstance(ballots, list | tuple):
        return []
    found: list[dict[str, str]] = []
    for index, ballot in enumerate(ballots):
        if not _plainly_secret(ballot):
            found.extend(_violations(ballot, f"{BALLOTS_FIELD}[{index}]"))
    return found


def _plainly_secret(ballot: Any) -> bool:
    """The common case, decided with set operations: marks only, nothing else."""
    if type(ballot) is not dict or not ballot.keys() <= _ALLOWED:
        return False
    marks = ballot.get("marks", _EMPTY)
    written = ballot.get("write_ins", _EMPTY)
    count = ballot.get("count", 0)
    spoiled = ballot.get("spoiled")
    return (
        type(marks) is dict
        and type(written) is dict
        and _marks_ok(marks)
        and _marks_ok(written)
        and type(count) is int
        and (spoiled is None or spoiled in SPOILED_REASONS)
    )


def _marks_ok(marks: dict[Any, Any]) -> bool:
    try:
        return set(marks.values()) <= MARK_VALUES
    except TypeError:  # an unhashable value: certainly not a mark
        return False


def _violations(ballot: Any, where: str) -> list[dict[str, str]]:
    """What is wrong with one ballot (the slow path, run only when something is)."""
    if not isinstance(ballot, Mapping):
        return [{"path": where, "message": "a ballot is an object of marks"}]
    found: list[dict[str, str]] = []
    extra = [key for key in ballot if key not in BALLOT_KEYS]
    if extra:
        found.append(
            {
                "path": where,
                "message": f"a secret ballot holds only {', '.join(BALLOT_KEYS)}; "
                f"it has {len(extra)} other key(s), which could name a voter",
            }
        )
    for part in ("marks", "write_ins"):
        marks = ballot.get(part, {})
        if not isinstance(marks, Mapping) or not all(
            isinstance(m, str) and m in MARK_VALUES for m in marks.values()
        ):
            found.append(
                {
                    "path": f"{where}.{part}",
                    "message": f"each mark is one of {', '.join(sorted(MARK_VALUES))}",
                }
            )
    count = ballot.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int):
        found.append({"path": f"{where}.count", "message": "a count is an integer"})
    spoiled = ballot.get("spoiled")
    if spoiled is not None and spoiled not in SPOILED_REASONS:
        found.append(
            {
                "path": f"{where}.spoiled",
                "message": f"a spoiled ballot's reason is one of {', '.join(SPOILED_REASONS)}",
            }
        )
    return found


def _sort_key(ballot: Any) -> bytes:
    # JSON with sorted keys: a function of the content alone. Not the sealing encoder,
    # which refuses floats (the schema's and the seal's to refuse, not this sort's).
    # orjson is ~2x the json module here; what it cannot encode takes the slow road.
    try:
        return orjson.dumps(ballot, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(
            ballot, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
        ).encode()


def canonical_ballots(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with its ballots sorted by their JSON text (entry order dropped).

    Call only on a payload without ``secrecy_violations``.
    """
    plain = dict(payload)
    ballots = plain.get(BALLOTS_FIELD)
    if isinstance(ballots, list | tuple):
        plain[BALLOTS_FIELD] = sorted(ballots, key=_sort_key)
    return plain


__all__ = [
    "BALLOTS_FIELD",
    "BALLOT_KEYS",
    "MARK_VALUES",
    "SPOILED_REASONS",
    "canonical_ballots",
    "secrecy_violations",
]
