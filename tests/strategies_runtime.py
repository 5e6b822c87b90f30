"""Hypothesis strategies for runtime tests: attempts on the 四议两公开 procedure.

Steps are drawn one at a time against the case's current state (see
``step_for``), so most attempts are plausible — the event is usually allowed
here, fired by the right role, with attendance and votes around the
thresholds — while a steady share is wrong on purpose: unknown events, events
not allowed in the state, the wrong actor, malformed payloads, repeated
idempotency keys. Time only moves forward, and ticks advance it past
disclosure periods often enough for the timers to fire.

Each strategy is built once for the arguments it depends on and then shared
(``functools.cache``). A run draws a step for every one of its up to 40 steps;
building the step's strategy afresh each time made Hypothesis validate it and
work out its emptiness and labels again, which cost most of a replay property's
CPU. A shared strategy draws exactly what a fresh one would: the examples are the
same, only the building is done once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st
from runtime_support import COMMITTEE, DIRECTOR, NOBODY, SECRETARY, SUPERVISOR

from engine.runtime.types import Actor

MEETINGS = ("propose", "deliberate", "review", "resolve")
NOTICES = ("disclose_resolution", "disclose_result")
TIMERS = ("resolution_period_ended", "result_period_ended")
EVENTS = (*MEETINGS, *NOTICES, "sign_off", *TIMERS, "bogus")

ALLOWED_IN: dict[str, tuple[str, ...]] = {
    "drafting": ("propose",),
    "proposed": ("deliberate",),
    "deliberated": ("review",),
    "reviewed": ("resolve",),
    "resolved": ("disclose_resolution",),
    "resolution_disclosed": (),
    "implementing": ("disclose_result",),
    "result_disclosed": (),
    "awaiting_sign_off": ("sign_off",),
    "closed": (),
    "rejected": (),
}
"""Events a person may fire in each state (timer events are the system's)."""

RIGHT_ACTOR: dict[str, Actor] = {
    "propose": SECRETARY,
    "deliberate": SECRETARY,
    "review": SECRETARY,
    "resolve": DIRECTOR,
    "disclose_resolution": COMMITTEE,
    "disclose_result": COMMITTEE,
    "sign_off": SUPERVISOR,
}
ACTORS = (SECRETARY, DIRECTOR, COMMITTEE, SUPERVISOR, NOBODY)


@dataclass(frozen=True, slots=True)
class Fire:
    """An attempt: ``advance`` after the previous step, then fire."""

    event: str
    actor: Actor
    payload: dict[str, Any]
    advance: timedelta
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Move time on by ``advance`` and fire whatever timers are due."""

    advance: timedelta


Step = Fire | Tick


@cache
def case_data() -> st.SearchStrategy[dict[str, Any]]:
    """Initial data of a 四议两公开 case: small, plausible body sizes."""
    return st.fixed_dictionaries(
        {
            "matter": st.sampled_from(["村内道路硬化", "集体土地发包", "水渠维修"]),
            "branch_committee_members": st.integers(1, 9),
            "two_committees_members": st.integers(1, 15),
            "voting_party_members": st.integers(1, 60),
            "representatives": st.integers(1, 60),
            "reconvened": st.just(0),
        }
    )


@cache
def counts() -> st.SearchStrategy[int]:
    """Attendance and votes: mostly small (around small bodies' thresholds), sometimes larger."""
    return st.integers(0, 10) | st.integers(0, 70)


BODY = {
    "propose": "branch_committee_members",
    "deliberate": "two_committees_members",
    "review": "voting_party_members",
    "resolve": "representatives",
}
"""The data field holding the size of the body each meeting convenes."""


@st.composite
def meeting_payloads(draw: st.DrawFn, size: int | None = None) -> dict[str, Any]:
    """A valid meeting payload: present, yes, and optionally no and minutes.

    With the body's ``size``, half the payloads are likely to carry the meeting
    and half fall anywhere from 0 to size + 1, so cases get deep into the
    procedure while quorums and majorities are still often missed.
    """
    if size is None:
        present, yes = draw(counts()), draw(counts())
    elif draw(st.booleans()):
        # Likely to carry: two thirds or more present, yes a majority of present and body.
        present = draw(st.integers(-(-2 * size // 3), size))
        lowest = min(max(present, size) // 2 + 1, present)
        yes = draw(st.integers(lowest, present))
    else:
        present = draw(st.integers(0, size + 1))
        yes = draw(st.integers(0, present) | st.integers(0, size + 1))
    payload: dict[str, Any] = {"present": present, "yes": yes}
    if draw(st.booleans()):
        payload["minutes"] = draw(st.text(max_size=8))
    return payload


@cache
def invalid_payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Payloads that break a schema: wrong types, negatives, extra or missing keys."""
    return st.one_of(
        st.just({}),
        st.fixed_dictionaries({"present": st.text(max_size=3), "yes": counts()}),
        st.fixed_dictionaries({"present": counts(), "yes": st.integers(-5, -1)}),
        st.fixed_dictionaries({"present": counts(), "yes": counts(), "extra": st.booleans()}),
        st.fixed_dictionaries({"notice": st.just("")}),
        st.fixed_dictionaries({"opinion": st.integers(0, 3)}),
    )


def payload_for(event: str, data: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A payload for ``event`` on a case holding ``data``: valid four times in five."""
    size = data.get(BODY[event]) if event in MEETINGS else None
    size = size if isinstance(size, int) else None
    # the type is part of the key: True equals 1 (and hashes alike) but is another argument
    return _payload_for(event, size, type(size))


@cache
def _payload_for(event: str, size: int | None, _: type) -> st.SearchStrategy[dict[str, Any]]:
    """``payload_for`` built once for an event and the size of the body it convenes."""
    valid: st.SearchStrategy[dict[str, Any]]
    if event in MEETINGS:
        valid = meeting_payloads(size)
    elif event in NOTICES:
        valid = st.fixed_dictionaries(
            {"notice": st.text(min_size=1, max_size=8)}, optional={"place": st.text(max_size=6)}
        )
    elif event == "sign_off":
        valid = st.fixed_dictionaries({"opinion": st.text(min_size=1, max_size=8)})
    else:
        valid = st.just({})
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda ok: valid if ok else invalid_payloads()
    )


@cache
def advances() -> st.SearchStrategy[timedelta]:
    """How long until the next step: minutes to a fortnight."""
    return st.one_of(
        st.integers(1, 600).map(lambda m: timedelta(minutes=m)),
        st.integers(1, 14).map(lambda d: timedelta(days=d)),
    )


@st.composite
def fire_for(draw: st.DrawFn, state: str, data: Mapping[str, Any]) -> Fire:
    """An attempt drawn against ``state`` and ``data``: usually allowed here, by the right actor."""
    allowed = ALLOWED_IN.get(state, ())
    if allowed and draw(st.integers(0, 3)) > 0:
        event = draw(st.sampled_from(allowed))
    else:
        event = draw(st.sampled_from(EVENTS))
    right = RIGHT_ACTOR.get(event)
    if right is not None and draw(st.integers(0, 5)) > 0:
        actor = right
    else:
        actor = draw(st.sampled_from(ACTORS))
    return Fire(
        event=event,
        actor=actor,
        payload=draw(payload_for(event, data)),
        advance=draw(advances()),
        idempotency_key=draw(_idempotency_keys()),
    )


@cache
def _idempotency_keys() -> st.SearchStrategy[str | None]:
    """No key twice in three; else one of three keys, so keys are reused."""
    return st.none() | st.none() | st.sampled_from(["k1", "k2", "k3"])


def step_for(state: str, data: Mapping[str, Any]) -> st.SearchStrategy[Step]:
    """The next step for a case in ``state`` with ``data``: mostly an attempt, or a tick."""
    # Only the bodies' sizes of ``data`` shape a step (see payload_for), so the strategy is
    # built once for each state and sizes; the type is kept in the key (True == 1).
    sizes = tuple((data.get(field), type(data.get(field))) for field in BODY.values())
    try:
        return _step_for(state, sizes)
    except TypeError:  # a size no action writes, but unhashable: built for this step only
        return _step_for.__wrapped__(state, sizes)


@cache
def _step_for(state: str, sizes: tuple[tuple[Any, type], ...]) -> st.SearchStrategy[Step]:
    """``step_for`` built once for a state and the bodies' sizes (missing ones are None)."""
    data = {field: size for field, (size, _) in zip(BODY.values(), sizes, strict=True)}
    fires, ticks = fire_for(state, data), st.builds(Tick, advances())
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda fire: fires if fire else ticks
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value audit records may hold (no floats: records hold exact numbers)."""
    scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=6)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=6,
    )


TAMPERABLE = (
    "v", "at", "kind", "actor", "event", "payload", "from", "to", "guards", "actions",
    "procedure", "prev", "hash", "reason", "idempotency_key", "note",
)  # fmt: skip
"""Fields an attempt record may have edited (``note`` stands for any unknown field).

``case`` and ``seq`` are left out on purpose: changing them moves the record to
another case or place, so replay reports the divergence where the record lands,
not at its original seq (``test_replay_properties`` checks those separately).
"""
