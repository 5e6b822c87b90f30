"""Specification of ``engine.definition.describe`` and ``periods``: a procedure in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.registry import ActionSpec, Registry
from engine.definition.describe import (
    FieldDescription,
    ProcedureDescription,
    RoleDescription,
    StateDescription,
    describe_action,
    describe_payload,
    describe_procedure,
)
from engine.definition.loader import load_procedure
from engine.definition.model import ActionCall
from engine.definition.periods import period_words
from engine.errors import SourceLocation

ROOT = Path(__file__).resolve().parent.parent
# 四议两公开 as it was at 1.0.0 (a frozen copy): these tests pin its exact labels, choices and
# deadline edges, so amending the bundled procedure (a new version) does not change them.
BUNDLED = ROOT / "tests" / "data" / "four-deliberations-1.0.0.yaml"
TRICKY = ROOT / "tests" / "data" / "tricky-labels.yaml"
HERE = SourceLocation(file="test.yaml", line=1, column=1)


@pytest.fixture(scope="module")
def bundled() -> ProcedureDescription:
    """The description of the bundled 四议两公开 procedure."""
    return describe_procedure(load_procedure(BUNDLED))


@pytest.fixture(scope="module")
def tricky() -> ProcedureDescription:
    """The description of a procedure using margin, weights and enum payloads."""
    return describe_procedure(load_procedure(TRICKY))


def test_header_names_the_procedure_its_rule_set_and_flattened_choices(
    bundled: ProcedureDescription,
) -> None:
    """The header carries title, id, version, sha256 and the rule set's choices as
    dotted ``key: value`` pairs, in file order."""
    assert (bundled.title, bundled.id, bundled.version) == (
        "四议两公开",
        "four-deliberations-two-disclosures",
        "1.0.0",
    )
    assert len(bundled.sha256) == 64
    assert bundled.choices == (
        ("quorum_operator", "at_least"),
        ("majority_base", "expected"),
        ("disclosure.period", "P7D"),
        ("disclosure.days", "calendar"),
    )


def test_roles_keep_their_chinese_labels(bundled: ProcedureDescription) -> None:
    """Each declared role is listed with its Chinese label, in file order."""
    assert [(r.id, r.label) for r in bundled.roles] == [
        ("branch_secretary", "村党支部书记"),
        ("village_director", "村民委员会主任"),
        ("village_committee", "村民委员会"),
        ("supervision_committee", "村务监督委员会"),
    ]


def test_states_show_labels_initial_final_and_deadlines_in_words(
    bundled: ProcedureDescription,
) -> None:
    """States carry their label, initial/final flags and the deadline as a sentence."""
    states = {s.id: s for s in bundled.states}

    assert states["drafting"] == StateDescription(
        id="drafting",
        label="拟议",
        description=(
            "the matter is being drafted or revised before the branch committee proposes it"
        ),
        initial=True,
    )
    assert states["closed"].final
    assert states["rejected"].final
    assert not states["drafting"].final
    assert states["resolution_disclosed"].deadline == (
        "after 7 calendar days: fires resolution_period_ended (决议公示期满)"
    )
    assert states["implementing"].deadline == ""


def test_event_lists_who_may_fire_it_and_its_payload_fields(
    bundled: ProcedureDescription,
) -> None:
    """An event names its roles with labels and each payload field's type, title and need."""
    propose = next(e for e in bundled.events if e.id == "propose")

    assert propose.label == "党支部提议"
    assert propose.roles == (
        RoleDescription(
            id="branch_secretary",
            label="村党支部书记",
            description="convenes the branch committee, the joint meeting and the members' meeting",
        ),
    )
    assert propose.fired_by == "branch_secretary (村党支部书记)"
    assert propose.payload == (
        FieldDescription(name="present", type="integer", title="实到人数", required=True),
        FieldDescription(name="yes", type="integer", title="赞成票", required=True),
        FieldDescription(name="no", type="integer", title="反对票", required=False),
        FieldDescription(name="minutes", type="string", title="会议记录", required=False),
    )


def test_timer_event_is_fired_by_the_deadline_of_its_state(bundled: ProcedureDescription) -> None:
    """An event no role fires but a deadline does says so, naming the state."""
    ended = next(e for e in bundled.events if e.id == "resolution_period_ended")

    assert ended.roles == ()
    assert ended.fired_by == "the deadline timer in resolution_disclosed (决议公开中)"
    assert ended.payload == ()


def test_transitions_read_as_routes_with_every_guard_and_action_in_words(
    bundled: ProcedureDescription,
) -> None:
    """Each transition says ``from A (label) → B (label)``, its label, each guard through the
    check's own describe() (CEL guards with an explanation also show the expression) and each
    action as a sentence, in the order they are tried."""
    propose = next(e for e in bundled.events if e.id == "propose")
    first, second, third = propose.transitions

    assert first.route == "from drafting (拟议) → proposed (党支部已提议)"
    assert first.label == "支委会半数以上到会，过半数同意"
    assert first.guards == (
        "赞成票不超过到会人数 (payload.yes <= payload.present)",
        "支委会到会: present (payload.present) at least 1/2 of expected "
        "(data.branch_committee_members)",
        "支委会同意: count (payload.yes) more than 1/2 of 支委会成员 "
        "(data.branch_committee_members)",
    )
    assert first.actions == (
        'append {"step": "propose", "present": payload.present, "yes": payload.yes, '
        '"adopted": true} to data.decisions',
    )
    assert second.route == "from drafting (拟议) → drafting (拟议)"
    assert second.actions == ("add 1 to data.reconvened",)
    assert third.label == "未获通过，修改后再议"


def test_margin_weights_and_bare_cel_guards_are_described(tricky: ProcedureDescription) -> None:
    """Margin and weights checks are said in words; a CEL guard without explanation says
    its expression holds; ``set`` with a literal shows the value as JSON."""
    [go] = [e for e in tricky.events if e.id == "go"]
    [step] = go.transitions

    assert step.guards == (
        "差额: candidates (data.candidates) exceed seats (data.seats) by at least 1/5 of the seats",
        "the weights (data.weights) sum to exactly 1",
        'payload.choice == "a" holds',
    )
    assert step.actions == ('set data.note to "已提交"',)


def test_payload_types_in_words_for_enums_arrays_and_unions() -> None:
    """Payload field types read as words: enums list their values, arrays their items."""
    fields = describe_payload(
        {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"enum": ["甲", "乙"]},
                "names": {"type": "array", "items": {"type": "string"}},
                "count": {"type": ["integer", "null"]},
                "anything": {},
            },
        }
    )

    assert [(f.name, f.type, f.required) for f in fields] == [
        ("kind", 'one of "甲", "乙"', True),
        ("names", "array of string", False),
        ("count", "integer or null", False),
        ("anything", "any", False),
    ]
    assert describe_payload({"type": "object"}) == ()


def test_registered_action_is_described_by_its_parameters_and_help() -> None:
    """An action other than the built-ins shows its call and the registry's description."""
    registry = Registry()
    registry.register(
        ActionSpec(
            name="rank",
            description="rank candidates by votes",
            params_schema={},
            run=lambda params, ctx: None,
        )
    )
    call = ActionCall(name="rank", params={"by": "票数", "top": 3}, location=HERE)

    assert describe_action(call, registry) == 'rank(by="票数", top=3): rank candidates by votes'
    assert describe_action(ActionCall(name="x", location=HERE), Registry()) == "x()"


def test_increment_by_a_step_is_described() -> None:
    """``increment`` with ``by`` says how much it adds."""
    call = ActionCall(name="increment", params={"path": "data.rounds", "by": 2}, location=HERE)

    assert describe_action(call, Registry()) == "add 2 to data.rounds"


@pytest.mark.parametrize(
    ("period", "days", "words"),
    [
        ("P7D", "calendar", "7 calendar days"),
        ("P1D", "working", "1 working day"),
        ("P5D", "working", "5 working days"),
        ("P2W", "calendar", "2 calendar weeks"),
        ("PT48H", "calendar", "48 hours"),
        ("P1M", "calendar", "1 month"),
        ("P1Y2M3D", "calendar", "1 year, 2 months and 3 calendar days"),
        ("PT1H30M", "calendar", "1 hour and 30 minutes"),
        ("not a period", "calendar", "not a period"),
    ],
)
def test_period_words(period: str, days: str, words: str) -> None:
    """ISO 8601 periods are said in words, days and weeks with how they are counted."""
    assert period_words(period, days) == words
