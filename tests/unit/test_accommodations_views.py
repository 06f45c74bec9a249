"""The confidential medical file: its own key, the view that fits the reader, errors
that carry no medical text, and replay (29 CFR 1630.14; DESIGN §3 items 1 and 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from domain.accommodations import AccommodationsApplication
from domain.base import KEK_EVENTS, KEK_MEDICAL
from domain.errors import PermissionDenied, SequesterError
from domain.staff.aggregate import staff_uuid
from ops.bootstrap import System

EMPLOYEE, HR, SUPERVISOR, OTHER = "rss-1", "hr-1", "pm-1", "clin-1"
CONDITION = "schizoaffective disorder, auditory hallucinations under fluorescent light"
REQUESTED = "a desk lamp instead of overhead lights"
HR_NOTE = "hr-note: discussed lighting vendors with the employee"
EMPLOYEE_NOTE = "employee-note: glare worst after noon"
HARDSHIP = "rewiring the whole floor exceeds the facilities budget"
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


@pytest.fixture
def granted(app: AccommodationsApplication) -> UUID:
    request_id, _ = app.file(
        EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, "data entry", date(2024, 3, 1)
    )
    app.add_note(request_id, HR, ["hr"], HR_NOTE, AT)
    app.add_note(request_id, EMPLOYEE, ["peer_staff"], EMPLOYEE_NOTE, AT)
    app.offer(request_id, HR, ["hr"], "a seat by the window", AT)
    app.decline(request_id, EMPLOYEE, "a seat by the window", "glare is worse there", AT)
    app.grant(request_id, HR, ["hr"], "a desk lamp and a dimmer", date(2024, 4, 1), AT)
    return request_id


# -- its own key ----------------------------------------------------------------------
def test_filing_creates_a_medical_data_key_for_the_employee(
    memory_system: System, app: AccommodationsApplication
) -> None:
    store = memory_system.keyring.store
    subject = staff_uuid(EMPLOYEE)
    assert store.find(KEK_MEDICAL, subject) is None
    before = {s.name: sum(s.data_keys_by_version.values()) for s in memory_system.keyring.status()}
    app.file(EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, None, date(2024, 3, 1))
    after = {s.name: sum(s.data_keys_by_version.values()) for s in memory_system.keyring.status()}
    assert store.find(KEK_MEDICAL, subject) is not None
    assert after[KEK_MEDICAL] == before[KEK_MEDICAL] + 1
    assert after[KEK_EVENTS] == before[KEK_EVENTS]


def test_every_event_is_sealed_under_the_medical_data_key(
    memory_system: System, granted: UUID
) -> None:
    medical = memory_system.keyring.store.find(KEK_MEDICAL, staff_uuid(EMPLOYEE))
    assert medical is not None
    rows = memory_system.infrastructure.recorder.select_events(granted)
    assert len(rows) == 6
    assert {UUID(bytes=row.state[1:17]) for row in rows} == {medical.key_id}
    assert memory_system.keyring.store.find(KEK_EVENTS, granted) is None


# -- views ------------------------------------------------------------------------------
def test_hr_reads_the_whole_file(app: AccommodationsApplication, granted: UUID) -> None:
    view = app.view(granted, HR, ["hr"], viewer_is_supervisor=False)
    assert view["condition"] == CONDITION
    assert [n["text"] for n in view["notes"]] == [HR_NOTE, EMPLOYEE_NOTE]
    assert view["accommodation"] == "a desk lamp and a dimmer"


def test_the_supervisor_sees_the_accommodation_not_the_condition(
    app: AccommodationsApplication, granted: UUID
) -> None:
    view = app.view(granted, SUPERVISOR, ["manager"], viewer_is_supervisor=True)
    assert view == {
        "request_id": granted,
        "employee_id": EMPLOYEE,
        "status": "granted",
        "requested": REQUESTED,
        "accommodation": "a desk lamp and a dimmer",
        "effective_on": date(2024, 4, 1),
    }
    assert CONDITION not in repr(view) and "note" not in repr(view)


def test_the_supervisor_sees_no_hardship_reasoning(app: AccommodationsApplication) -> None:
    request_id, _ = app.file(EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, None, date(2024, 3, 1))
    app.deny(request_id, HR, ["hr"], HARDSHIP, AT)
    view = app.view(request_id, SUPERVISOR, ["manager"], viewer_is_supervisor=True)
    assert view["status"] == "denied"
    assert HARDSHIP not in repr(view) and CONDITION not in repr(view)


def test_the_employee_sees_its_own_words_and_the_decision(
    app: AccommodationsApplication, granted: UUID
) -> None:
    view = app.view(granted, EMPLOYEE, ["peer_staff"], viewer_is_supervisor=False)
    assert view["condition"] == CONDITION and view["functions_affected"] == "data entry"
    assert [n["text"] for n in view["notes"]] == [EMPLOYEE_NOTE]
    assert view["decision"]["accommodation"] == "a desk lamp and a dimmer"
    assert view["declines"][0]["reason"] == "glare is worse there"


def test_anyone_else_is_refused(app: AccommodationsApplication, granted: UUID) -> None:
    with pytest.raises(PermissionDenied) as err:
        app.view(granted, OTHER, ["clinician", "manager"], viewer_is_supervisor=False)
    assert err.value.rule == "medical_file_hr_only"


# -- errors carry no medical text ---------------------------------------------------------
def test_no_error_message_carries_the_condition_or_a_note(
    app: AccommodationsApplication, granted: UUID
) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: app.file(HR, EMPLOYEE, CONDITION, REQUESTED, None, date(2024, 3, 1)),
        lambda: app.add_note(granted, OTHER, ["clinician"], HR_NOTE, AT),
        lambda: app.offer(granted, HR, ["hr"], CONDITION, AT),
        lambda: app.grant(granted, HR, ["hr"], CONDITION, date(2024, 4, 1), AT),
        lambda: app.deny(granted, OTHER, [], HR_NOTE, AT),
        lambda: app.decline(granted, HR, CONDITION, HR_NOTE, AT),
        lambda: app.decline(granted, EMPLOYEE, CONDITION, HR_NOTE, AT),
        lambda: app.view(granted, OTHER, ["clinician"], viewer_is_supervisor=False),
    ]
    for attempt in attempts:
        with pytest.raises(SequesterError) as err:
            attempt()
        for secret in (CONDITION, HR_NOTE, EMPLOYEE_NOTE, REQUESTED):
            assert secret not in str(err.value)


# -- replay ---------------------------------------------------------------------------------
def test_a_fresh_application_replays_to_equal_state(
    memory_system: System, app: AccommodationsApplication, granted: UUID
) -> None:
    fresh = AccommodationsApplication(memory_system.infrastructure)
    assert vars(fresh.get(granted)) == vars(app.get(granted))


def test_the_request_can_be_shown_as_it_was(app: AccommodationsApplication, granted: UUID) -> None:
    as_filed = app.get(granted, version=1)
    assert as_filed.status == "filed" and as_filed.notes == [] and as_filed.decision is None
    assert app.get(granted, version=4).status == "offered"
