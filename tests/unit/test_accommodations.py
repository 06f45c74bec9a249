"""Accommodation requests: who may file, discuss, offer, decide and decline [seed:
Reasonable accommodations II.B-F]."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from domain.accommodations import AccommodationsApplication
from domain.accommodations.aggregate import AccommodationRequest
from domain.errors import InvalidInput, NotFound, OutOfOrder, PermissionDenied, RuleViolation
from ops.bootstrap import System

EMPLOYEE, HR, SUPERVISOR, OTHER = "rss-1", "hr-1", "pm-1", "clin-1"
CONDITION = "recurrent major depressive disorder, morning medication drowsiness"
REQUESTED = "start shifts at 10:00 instead of 08:00"
FILED_ON = date(2024, 3, 1)
AT = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def app(memory_system: System) -> AccommodationsApplication:
    staff = memory_system.staff
    staff.hire(SUPERVISOR, "P. Manager", "program_manager", ["manager"], date(2020, 1, 1))
    staff.hire(HR, "H. Resources", "hr_specialist", ["hr"], date(2020, 1, 1))
    staff.hire(OTHER, "C. Linician", "clinician", ["clinician"], date(2020, 1, 1))
    staff.hire(
        EMPLOYEE,
        "R. Specialist",
        "recovery_support_specialist",
        ["peer_staff"],
        date(2023, 6, 1),
        supervisor_id=SUPERVISOR,
    )
    return AccommodationsApplication(memory_system.infrastructure)


def file_request(app: AccommodationsApplication) -> UUID:
    request_id, _ = app.file(EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, "morning outreach", FILED_ON)
    return request_id


# -- filing [II.B-C] ----------------------------------------------------------------
def test_the_employee_files_its_own_request(app: AccommodationsApplication) -> None:
    request_id, position = app.file(EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, None, FILED_ON)
    request = app.get(request_id)
    assert position > 0
    assert (request.employee_id, request.status, request.condition) == (
        EMPLOYEE,
        "filed",
        CONDITION,
    )
    assert request.requested == REQUESTED and request.functions_affected is None


def test_nobody_files_on_the_employees_behalf(app: AccommodationsApplication) -> None:
    position = app.position()
    with pytest.raises(RuleViolation) as err:
        app.file(HR, EMPLOYEE, CONDITION, REQUESTED, None, FILED_ON)
    assert err.value.rule == "employee_only"
    assert app.position() == position


def test_filing_needs_a_condition_and_a_request(app: AccommodationsApplication) -> None:
    with pytest.raises(InvalidInput):
        app.file(EMPLOYEE, EMPLOYEE, "  ", REQUESTED, None, FILED_ON)
    with pytest.raises(InvalidInput):
        app.file(EMPLOYEE, EMPLOYEE, CONDITION, "", None, FILED_ON)


def test_filing_for_an_unknown_staff_member_is_refused(app: AccommodationsApplication) -> None:
    with pytest.raises(NotFound):
        app.file("ghost", "ghost", CONDITION, REQUESTED, None, FILED_ON)


def test_an_unknown_request_is_not_found(app: AccommodationsApplication) -> None:
    with pytest.raises(NotFound):
        app.get(uuid4())


# -- the interactive discussion [II.D] ----------------------------------------------
def test_hr_and_the_employee_add_notes(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.add_note(request_id, HR, ["hr"], "asked which mornings are hardest", AT)
    app.add_note(request_id, EMPLOYEE, ["peer_staff"], "Mondays and Tuesdays", AT)
    notes = app.get(request_id).notes
    assert [(n["author"], n["role"]) for n in notes] == [(HR, "hr"), (EMPLOYEE, "employee")]
    assert notes[1]["text"] == "Mondays and Tuesdays" and notes[1]["at"] == AT


def test_others_cannot_add_notes(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(PermissionDenied) as err:
        app.add_note(request_id, SUPERVISOR, ["manager"], "I think it is fine", AT)
    assert err.value.rule == "medical_file" and EMPLOYEE not in err.value.detail
    assert app.get(request_id).notes == []


def test_a_note_needs_text_and_an_aware_time(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(InvalidInput):
        app.add_note(request_id, HR, ["hr"], " ", AT)
    with pytest.raises(InvalidInput):
        app.add_note(request_id, HR, ["hr"], "text", datetime(2024, 3, 5, 14, 0))


# -- offer and decision [II.A, II.E] ------------------------------------------------
def test_hr_offers_an_alternative(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.offer(request_id, HR, ["hr"], "afternoon caseload only", AT)
    request = app.get(request_id)
    assert request.status == "offered"
    assert request.offers == [
        {"accommodation": "afternoon caseload only", "offered_by": HR, "at": AT}
    ]


def test_only_hr_offers(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(PermissionDenied) as err:
        app.offer(request_id, SUPERVISOR, ["manager"], "afternoon caseload only", AT)
    assert err.value.rule == "hr_only"


def test_hr_grants_an_agreed_accommodation(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.grant(request_id, HR, ["hr"], "start at 09:30", date(2024, 4, 1), AT)
    request = app.get(request_id)
    assert request.status == "granted"
    assert request.decision == {
        "outcome": "granted",
        "accommodation": "start at 09:30",
        "effective_on": date(2024, 4, 1),
        "undue_hardship": None,
        "decided_by": HR,
        "at": AT,
    }


def test_only_hr_grants(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(PermissionDenied) as err:
        app.grant(request_id, SUPERVISOR, ["manager"], REQUESTED, date(2024, 4, 1), AT)
    assert err.value.rule == "hr_only"
    assert app.get(request_id).status == "filed"


def test_hr_cannot_decide_its_own_request(
    memory_system: System, app: AccommodationsApplication
) -> None:
    memory_system.staff.hire("hr-2", "H. Two", "hr_specialist", ["hr"], date(2021, 1, 1))
    request_id, _ = app.file("hr-2", "hr-2", CONDITION, REQUESTED, None, FILED_ON)
    with pytest.raises(RuleViolation) as err:
        app.grant(request_id, "hr-2", ["hr"], REQUESTED, date(2024, 4, 1), AT)
    assert err.value.rule == "no_self_decision"


def test_a_grant_cannot_take_effect_before_filing(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(InvalidInput):
        app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 2, 1), AT)


def test_hr_denies_stating_the_undue_hardship(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.deny(request_id, HR, ["hr"], "single-staff morning clinic; cost of a second hire", AT)
    request = app.get(request_id)
    assert request.status == "denied"
    assert request.decision is not None
    assert (
        request.decision["undue_hardship"] == "single-staff morning clinic; cost of a second hire"
    )


def test_a_denial_without_undue_hardship_is_refused(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(RuleViolation) as err:
        app.deny(request_id, HR, ["hr"], "   ", AT)
    assert err.value.rule == "denial_requires_undue_hardship"
    assert app.get(request_id).status == "filed"


def test_only_hr_denies(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(PermissionDenied) as err:
        app.deny(request_id, OTHER, ["clinician"], "too expensive", AT)
    assert err.value.rule == "hr_only"


def test_no_decision_twice(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 4, 1), AT)
    with pytest.raises(OutOfOrder):
        app.deny(request_id, HR, ["hr"], "too expensive", AT)
    with pytest.raises(OutOfOrder):
        app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 4, 1), AT)
    with pytest.raises(OutOfOrder):
        app.offer(request_id, HR, ["hr"], "something else", AT)


# -- declining [II.F] ----------------------------------------------------------------
def test_the_employee_declines_an_offer_and_hr_can_still_decide(
    app: AccommodationsApplication,
) -> None:
    request_id = file_request(app)
    app.offer(request_id, HR, ["hr"], "afternoon caseload only", AT)
    app.decline(request_id, EMPLOYEE, "afternoon caseload only", "not necessary", AT)
    assert app.get(request_id).status == "offer_declined"
    app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 4, 1), AT)
    assert app.get(request_id).status == "granted"


def test_the_employee_declines_a_granted_accommodation(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 4, 1), AT)
    app.decline(request_id, EMPLOYEE, REQUESTED, "", AT)
    request = app.get(request_id)
    assert request.status == "declined"
    assert request.declines == [
        {"accommodation": REQUESTED, "reason": "", "from": "granted", "at": AT}
    ]


def test_only_the_employee_declines(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.offer(request_id, HR, ["hr"], "afternoon caseload only", AT)
    with pytest.raises(PermissionDenied) as err:
        app.decline(request_id, HR, "afternoon caseload only", "", AT)
    assert err.value.rule == "medical_file"
    assert app.get(request_id).status == "offered"


def test_nothing_to_decline_before_an_offer_or_grant(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    with pytest.raises(OutOfOrder):
        app.decline(request_id, EMPLOYEE, REQUESTED, "", AT)


def test_nothing_to_decline_after_a_denial(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.deny(request_id, HR, ["hr"], "too expensive", AT)
    with pytest.raises(OutOfOrder):
        app.decline(request_id, EMPLOYEE, REQUESTED, "", AT)


def test_a_decline_names_the_current_offer(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.offer(request_id, HR, ["hr"], "afternoon caseload only", AT)
    with pytest.raises(RuleViolation) as err:
        app.decline(request_id, EMPLOYEE, "a different thing", "", AT)
    assert err.value.rule == "decline_names_current_offer"


def test_a_declined_grant_is_final(app: AccommodationsApplication) -> None:
    request_id = file_request(app)
    app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 4, 1), AT)
    app.decline(request_id, EMPLOYEE, REQUESTED, "", AT)
    with pytest.raises(OutOfOrder):
        app.decline(request_id, EMPLOYEE, REQUESTED, "", AT)
    with pytest.raises(OutOfOrder):
        app.grant(request_id, HR, ["hr"], REQUESTED, date(2024, 4, 1), AT)


def test_the_aggregate_is_filed_under_the_given_id() -> None:
    request_id = uuid4()
    request = AccommodationRequest.file(
        request_id, EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, None, FILED_ON
    )
    assert request.id == request_id
