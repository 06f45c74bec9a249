"""Dual-relationship cases through the application: disclosure and its findings, the
happy path, the queue's due dates and replay. (Out-of-order and wrong-role attempts:
test_dual_relationships_workflow.py.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.dual_relationships import (
    Actor,
    Disclosure,
    DualRelationshipPolicy,
    DualRelationshipsApplication,
)
from domain.errors import InvalidInput, NotFound, PermissionDenied
from domain.staff.aggregate import staff_uuid
from ops.bootstrap import System

STAFF = Actor("S-7", frozenset({"peer_staff"}))
MANAGER = Actor("M-1", frozenset({"manager"}))
COUNSEL = Actor("CC-1", frozenset({"county_counsel"}))
DEPUTY = Actor("CD-1", frozenset({"clinical_deputy"}))
DIRECTOR = Actor("DIR-1", frozenset({"director"}))
NOW = datetime(2024, 2, 1, 9, 30, tzinfo=UTC)

#: Closed 2022-06-01, so the county look-back runs to 2024-06-01; began 2023-03-01 → prohibited.
DISCLOSURE = Disclosure(
    staff_id="S-7",
    kind="romantic",
    began_on=date(2023, 3, 1),
    predates_hire=True,
    disclosed_on=date(2024, 1, 20),
    disclosed_to="M-1",
    hired_on=date(2024, 1, 8),
    counterpart_case_status="closed",
    counterpart_pseudonym="SQ-7F3K-Q9XM",
    counterpart_case_closed_on=date(2022, 6, 1),
)
#: A social relationship: not covered by the two-year rule.
SOCIAL = replace(DISCLOSURE, kind="social")


@pytest.fixture
def app(memory_system: System) -> DualRelationshipsApplication:
    return DualRelationshipsApplication(memory_system.infrastructure)


def disclose(app: DualRelationshipsApplication, disclosure: Disclosure = DISCLOSURE) -> UUID:
    case_id, _ = app.disclose(STAFF, disclosure, NOW)
    return case_id


def to_decision(app: DualRelationshipsApplication, disclosure: Disclosure = DISCLOSURE) -> UUID:
    """A case referred, with guidance and a recommendation, ready for the Director."""
    case_id = disclose(app, disclosure)
    app.refer(case_id, MANAGER, date(2024, 1, 22))
    app.record_guidance(case_id, COUNSEL, "exception possible if reassigned", date(2024, 1, 29))
    app.recommend(
        case_id, DEPUTY, "exception_with_conditions", "no clinical role", date(2024, 2, 1)
    )
    return case_id


def decided(app: DualRelationshipsApplication, conditions: list[str] | None = None) -> UUID:
    case_id = to_decision(app)
    texts = ["no access to the counterpart's chart", "annual review"]
    app.decide(
        case_id, DIRECTOR, "exception_with_conditions", conditions or texts, date(2024, 2, 5)
    )
    return case_id


# --- disclosure -------------------------------------------------------------------------


def test_a_disclosure_opens_a_case_about_the_staff_member(
    app: DualRelationshipsApplication,
) -> None:
    case_id, position = app.disclose(STAFF, DISCLOSURE, NOW)
    case = app.get(case_id)
    assert position >= 1
    assert case.disclosure == DISCLOSURE
    assert (case.staff_id, case.data_subject_id) == ("S-7", staff_uuid("S-7"))
    assert (case.recorded_by, case.recorded_as, case.recorded_at) == ("S-7", "self", NOW)
    assert case.current_step == "referral"


def test_the_two_year_finding_is_recorded_at_disclosure(app: DualRelationshipsApplication) -> None:
    case = app.get(disclose(app))
    assert case.prohibited
    assert "24-month look-back" in case.prohibition_reason
    assert case.lookback_months == 24


def test_a_relationship_outside_the_rule_is_recorded_as_not_prohibited(
    app: DualRelationshipsApplication,
) -> None:
    case = app.get(disclose(app, SOCIAL))
    assert not case.prohibited
    assert "not covered" in case.prohibition_reason


def test_the_applications_policy_decides_the_finding(memory_system: System) -> None:
    never = DualRelationshipsApplication(
        memory_system.infrastructure, DualRelationshipPolicy(lookback_months=None)
    )
    late_start = replace(DISCLOSURE, began_on=date(2024, 1, 1), predates_hire=True)
    case = never.get(disclose(never, late_start))
    assert case.prohibited and case.lookback_months is None


def test_a_prior_relationship_disclosed_on_the_deadline_is_on_time(
    app: DualRelationshipsApplication,
) -> None:
    on_time = replace(DISCLOSURE, disclosed_on=date(2024, 2, 7))
    case = app.get(app.disclose(STAFF, on_time, datetime(2024, 2, 7, 17, tzinfo=UTC))[0])
    assert (case.late_report, case.days_late, case.report_within_days) == (False, 0, 30)


def test_a_late_disclosure_is_accepted_and_flagged(app: DualRelationshipsApplication) -> None:
    late = replace(DISCLOSURE, disclosed_on=date(2024, 2, 8))
    case = app.get(app.disclose(STAFF, late, datetime(2024, 2, 8, 12, tzinfo=UTC))[0])
    assert (case.late_report, case.days_late) == (True, 1)


def test_a_manager_may_record_the_disclosure_on_the_members_behalf(
    app: DualRelationshipsApplication,
) -> None:
    case_id, _ = app.disclose(MANAGER, DISCLOSURE, NOW)
    assert (app.get(case_id).recorded_by, app.get(case_id).recorded_as) == ("M-1", "manager")


def test_another_staff_member_may_not_disclose_for_someone(
    app: DualRelationshipsApplication,
) -> None:
    with pytest.raises(PermissionDenied) as refused:
        app.disclose(Actor("X-1", frozenset({"clinician"})), DISCLOSURE, NOW)
    assert refused.value.rule == "disclose_requires_self_or_manager"


def test_a_client_number_may_name_the_counterpart(app: DualRelationshipsApplication) -> None:
    by_number = replace(
        DISCLOSURE,
        counterpart_pseudonym=None,
        counterpart_client_ref="C-004211",
        counterpart_case_status="open",
        counterpart_case_closed_on=None,
    )
    case = app.get(disclose(app, by_number))
    assert case.disclosure.counterpart_client_ref == "C-004211"
    assert "current client" in case.prohibition_reason


BAD_DISCLOSURES: list[tuple[dict[str, Any], str]] = [
    ({"kind": "platonic"}, "unknown kind 'platonic'"),
    ({"counterpart_client_ref": "C-1"}, "exactly one of counterpart_pseudonym"),
    ({"counterpart_pseudonym": None}, "exactly one of counterpart_pseudonym"),
    ({"counterpart_pseudonym": "  "}, "must not be blank"),
    ({"counterpart_case_status": "pending"}, "unknown counterpart_case_status"),
    ({"counterpart_case_closed_on": None}, "needs counterpart_case_closed_on"),
    ({"counterpart_case_status": "open"}, "must not have counterpart_case_closed_on"),
    ({"ended_on": date(2023, 2, 28)}, "ended_on 2023-02-28 is before began_on 2023-03-01"),
    ({"began_on": date(2024, 1, 21), "predates_hire": False}, "began_on 2024-01-21 is after"),
    (
        {"disclosed_on": date(2024, 2, 2)},
        "disclosed_on 2024-02-02 is after the day of recording, 2024-02-01",
    ),
    ({"predates_hire": False}, "predates_hire is False"),
    ({"disclosed_to": "S-7"}, "disclosed_to must be the staff member's manager"),
    ({"staff_id": " "}, "must not be blank"),
    ({"began_on": datetime(2023, 3, 1, tzinfo=UTC)}, "began_on must be a calendar date"),
    ({"predates_hire": "yes"}, "predates_hire must be true or false"),
]


@pytest.mark.parametrize(("change", "message"), BAD_DISCLOSURES)
def test_a_malformed_disclosure_is_refused_naming_the_field(
    app: DualRelationshipsApplication, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        app.disclose(MANAGER, replace(DISCLOSURE, **change), NOW)
    assert app.position() == 0


def test_a_recording_time_without_timezone_is_refused(app: DualRelationshipsApplication) -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        app.disclose(STAFF, DISCLOSURE, datetime(2024, 2, 1, 9, 30))


def test_an_unknown_case_is_not_found(app: DualRelationshipsApplication) -> None:
    with pytest.raises(NotFound, match="dual-relationship case"):
        app.get(uuid4())


# --- the happy path -----------------------------------------------------------------------


def test_the_full_procedure_ends_in_a_closed_case(app: DualRelationshipsApplication) -> None:
    case_id = decided(app)
    app.condition_met(case_id, 1, MANAGER, date(2024, 3, 1))
    app.condition_met(case_id, 0, DEPUTY, date(2024, 3, 2))
    position = app.close_case(case_id, DIRECTOR, date(2024, 3, 4))
    case = app.get(case_id)
    assert position == app.position() and case.version == 8
    assert case.is_closed and case.current_step == "closed"
    assert (case.closure.on, case.closure.by, case.closure.role) == (  # type: ignore[union-attr]
        date(2024, 3, 4), "DIR-1", "director",
    )  # fmt: skip
    assert [(c.met_on, c.met_by) for c in case.conditions] == [
        (date(2024, 3, 2), "CD-1"),
        (date(2024, 3, 1), "M-1"),
    ]


def test_each_step_is_recorded_with_who_and_when(app: DualRelationshipsApplication) -> None:
    case = app.get(decided(app))
    assert case.referral and (case.referral.by, case.referral.role) == ("M-1", "manager")
    assert case.guidance and case.guidance.text == "exception possible if reassigned"
    assert case.recommendation and case.recommendation.outcome == "exception_with_conditions"
    assert case.decision and (case.decision.by, case.decision.on) == ("DIR-1", date(2024, 2, 5))
    assert [c.text for c in case.conditions] == [
        "no access to the counterpart's chart",
        "annual review",
    ]


def test_the_recommendation_may_come_before_the_guidance(app: DualRelationshipsApplication) -> None:
    case_id = disclose(app, SOCIAL)
    app.refer(case_id, MANAGER, date(2024, 1, 22))
    app.recommend(case_id, DEPUTY, "no_conflict", "acquaintance only", date(2024, 1, 23))
    assert app.get(case_id).current_step == "guidance"
    app.record_guidance(case_id, COUNSEL, "no conflict seen", date(2024, 1, 24))
    assert app.get(case_id).current_step == "decision"


@pytest.mark.parametrize("actor", [DEPUTY, DIRECTOR])
def test_a_waiver_of_guidance_lets_the_director_decide(
    app: DualRelationshipsApplication, actor: Actor
) -> None:
    case_id = disclose(app, SOCIAL)
    app.refer(case_id, MANAGER, date(2024, 1, 22))
    app.waive_guidance(case_id, actor, "routine social contact", date(2024, 1, 23))
    app.recommend(case_id, DEPUTY, "no_conflict", "acquaintance only", date(2024, 1, 23))
    app.decide(case_id, DIRECTOR, "no_conflict", [], date(2024, 1, 24))
    case = app.get(case_id)
    assert case.guidance is None and case.guidance_waiver is not None
    assert case.guidance_waiver.role == next(iter(actor.roles))
    assert case.current_step == "close"


def test_a_decision_without_conditions_may_be_closed_at_once(
    app: DualRelationshipsApplication,
) -> None:
    case_id = to_decision(app)
    app.decide(case_id, DIRECTOR, "relationship_must_end", [], date(2024, 2, 5), "policy")
    app.close_case(case_id, DEPUTY, date(2024, 2, 6))
    case = app.get(case_id)
    assert case.is_closed and case.decision and case.decision.text == "policy"


@pytest.mark.parametrize("outcome", ["reassign", "relationship_must_end"])
def test_a_prohibited_relationship_may_be_resolved_by_reassigning_or_ending(
    app: DualRelationshipsApplication, outcome: str
) -> None:
    case_id = to_decision(app)
    app.decide(case_id, DIRECTOR, outcome, ["done by March"], date(2024, 2, 5))
    assert app.get(case_id).decision.outcome == outcome  # type: ignore[union-attr]


def test_no_conflict_is_allowed_where_the_rule_does_not_prohibit(
    app: DualRelationshipsApplication,
) -> None:
    case_id = to_decision(app, SOCIAL)
    app.decide(case_id, DIRECTOR, "no_conflict", [], date(2024, 2, 5))
    assert app.get(case_id).decision.outcome == "no_conflict"  # type: ignore[union-attr]


# --- the Clinical Deputy's queue -------------------------------------------------------------


def test_a_new_case_is_due_for_referral_five_days_after_disclosure(
    app: DualRelationshipsApplication,
) -> None:
    status = app.status(disclose(app), date(2024, 1, 25))
    assert (status.current_step, status.next_due_on) == ("referral", date(2024, 1, 25))
    assert (status.overdue, status.age_days) == (False, 5)


def test_a_case_past_its_due_date_is_overdue(app: DualRelationshipsApplication) -> None:
    assert app.status(disclose(app), date(2024, 1, 26)).overdue


def test_a_referred_case_waits_for_guidance_and_recommendation(
    app: DualRelationshipsApplication,
) -> None:
    case_id = disclose(app)
    app.refer(case_id, MANAGER, date(2024, 1, 22))
    status = app.status(case_id, date(2024, 2, 1))
    assert (status.current_step, status.next_due_on) == (
        "guidance_and_recommendation",
        date(2024, 2, 5),
    )


def test_a_ready_case_is_due_for_decision_after_the_later_input(
    app: DualRelationshipsApplication,
) -> None:
    case = app.get(to_decision(app))
    assert case.current_step == "decision"
    assert case.next_due_on(app.policy) == date(2024, 2, 15)
    assert case.due_on("referral", app.policy) == date(2024, 1, 25)


def test_a_decided_case_has_no_due_date_and_its_age_stops_at_closure(
    app: DualRelationshipsApplication,
) -> None:
    case_id = decided(app)
    assert app.status(case_id, date(2025, 1, 1)).next_due_on is None
    assert not app.status(case_id, date(2025, 1, 1)).overdue
    app.condition_met(case_id, 0, DIRECTOR, date(2024, 2, 6))
    app.condition_met(case_id, 1, DIRECTOR, date(2024, 2, 7))
    app.close_case(case_id, DIRECTOR, date(2024, 2, 9))
    assert app.status(case_id, date(2025, 1, 1)).age_days == 20


def test_due_dates_follow_the_applications_policy(memory_system: System) -> None:
    quick = DualRelationshipsApplication(
        memory_system.infrastructure, DualRelationshipPolicy(refer_within_days=1)
    )
    assert quick.status(disclose(quick), date(2024, 1, 22)).overdue


def test_an_unknown_step_has_no_due_date(app: DualRelationshipsApplication) -> None:
    with pytest.raises(InvalidInput, match="unknown step 'closure'"):
        app.get(disclose(app)).due_on("closure", app.policy)


# --- replay -----------------------------------------------------------------------------------


def test_a_fresh_application_replays_the_case_to_equal_state(
    app: DualRelationshipsApplication, memory_system: System
) -> None:
    case_id = decided(app)
    app.condition_met(case_id, 0, MANAGER, date(2024, 3, 1))
    fresh = DualRelationshipsApplication(memory_system.infrastructure)
    assert fresh.get(case_id) == app.get(case_id)


def test_each_version_replays_to_the_state_it_had(app: DualRelationshipsApplication) -> None:
    case_id = disclose(app)
    at_disclosure = app.get(case_id)
    app.refer(case_id, MANAGER, date(2024, 1, 22))
    at_referral = app.get(case_id)
    app.recommend(case_id, DEPUTY, "reassign", "move teams", date(2024, 1, 23))
    assert app.get(case_id, version=1) == at_disclosure
    assert app.get(case_id, version=2) == at_referral
    assert app.get(case_id, version=2).recommendation is None
