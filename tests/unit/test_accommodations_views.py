"""The confidential medical file: its own key, the view that fits the reader, errors
that carry no medical text, and replay (29 CFR 1630.14; DESIGN §3 items 1 and 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from domain.accommodations import AccommodationsApplication
from domain.base import KEK_EVENTS, KEK_MEDICAL, KeyScope
from domain.errors import PermissionDenied, SequesterError
from domain.staff.aggregate import staff_uuid
from ops.bootstrap import System
from ops.keys.datakeys import data_key_id

EMPLOYEE, HR, SUPERVISOR, OTHER = "rss-1", "hr-1", "pm-1", "clin-1"
CONDITION = "schizoaffective disorder, auditory hallucinations under fluorescent light"
REQUESTED = "a desk lamp instead of overhead lights"
HR_NOTE = "hr-note: discussed lighting vendors with the employee"
EMPLOYEE_NOTE = "employee-note: glare worst after noon"
HARDSHIP = "rewiring the whole floor exceeds the facilities budget"
AT = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)


def supervisor_of(employee_id: str) -> str | None:
    return SUPERVISOR if employee_id == EMPLOYEE else None


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
    keyring, store = memory_system.keyring, memory_system.keyring.store
    stored = keyring.stored_scope(KeyScope(KEK_MEDICAL, staff_uuid(EMPLOYEE)))
    app.file(HR, HR, CONDITION, REQUESTED, None, date(2024, 3, 1))  # the blinding key exists
    assert store.find(KEK_MEDICAL, stored.subject_id) is None
    before = {s.name: sum(s.data_keys_by_version.values()) for s in keyring.status()}
    app.file(EMPLOYEE, EMPLOYEE, CONDITION, REQUESTED, None, date(2024, 3, 1))
    after = {s.name: sum(s.data_keys_by_version.values()) for s in keyring.status()}
    assert store.find(KEK_MEDICAL, stored.subject_id) is not None
    assert after[KEK_MEDICAL] == before[KEK_MEDICAL] + 1
    assert after[KEK_EVENTS] == before[KEK_EVENTS]


def test_a_medical_key_is_not_filed_under_the_staff_members_public_id(
    memory_system: System, granted: UUID
) -> None:
    """A database reader who knows staff ids cannot tell whose medical file a key is."""
    store, subject = memory_system.keyring.store, staff_uuid(EMPLOYEE)
    assert store.find(KEK_MEDICAL, subject) is None
    assert store.get(data_key_id(KEK_MEDICAL, subject)) is None
    assert all(r.subject_id != subject for r in store.for_kek(KEK_MEDICAL))
    rows = memory_system.infrastructure.recorder.select_events(granted)
    assert {UUID(bytes=row.state[1:17]) for row in rows} != {data_key_id(KEK_MEDICAL, subject)}


def test_shredding_the_employee_shreds_the_medical_file(
    memory_system: System, granted: UUID
) -> None:
    from domain.errors import DataShredded

    memory_system.keyring.shred(staff_uuid(EMPLOYEE), "retention period ended")
    with pytest.raises(DataShredded):
        AccommodationsApplication(memory_system.infrastructure).get(granted)


def test_every_event_is_sealed_under_the_medical_data_key(
    memory_system: System, granted: UUID
) -> None:
    keyring = memory_system.keyring
    stored = keyring.stored_scope(KeyScope(KEK_MEDICAL, staff_uuid(EMPLOYEE)))
    medical = keyring.store.find(KEK_MEDICAL, stored.subject_id)
    assert medical is not None
    rows = memory_system.infrastructure.recorder.select_events(granted)
    assert len(rows) == 6
    assert {UUID(bytes=row.state[1:17]) for row in rows} == {medical.key_id}
    assert memory_system.keyring.store.find(KEK_EVENTS, granted) is None


# -- views ------------------------------------------------------------------------------
def test_hr_reads_the_whole_file(app: AccommodationsApplication, granted: UUID) -> None:
    view = app.view(granted, HR, ["hr"], supervisor_of=supervisor_of)[1]
    assert view["condition"] == CONDITION
    assert [n["text"] for n in view["notes"]] == [HR_NOTE, EMPLOYEE_NOTE]
    assert view["accommodation"] == "a desk lamp and a dimmer"


def test_the_supervisor_sees_the_accommodation_not_the_condition(
    app: AccommodationsApplication, granted: UUID
) -> None:
    view = app.view(granted, SUPERVISOR, ["manager"], supervisor_of=supervisor_of)[1]
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
    view = app.view(request_id, SUPERVISOR, ["manager"], supervisor_of=supervisor_of)[1]
    assert view["status"] == "denied"
    assert HARDSHIP not in repr(view) and CONDITION not in repr(view)


def test_the_employee_sees_its_own_words_and_the_decision(
    app: AccommodationsApplication, granted: UUID
) -> None:
    view = app.view(granted, EMPLOYEE, ["peer_staff"], supervisor_of=supervisor_of)[1]
    assert view["condition"] == CONDITION and view["functions_affected"] == "data entry"
    assert [n["text"] for n in view["notes"]] == [EMPLOYEE_NOTE]
    assert view["decision"]["accommodation"] == "a desk lamp and a dimmer"
    assert view["declines"][0]["reason"] == "glare is worse there"


def test_anyone_else_is_refused(app: AccommodationsApplication, granted: UUID) -> None:
    with pytest.raises(PermissionDenied) as err:
        app.view(granted, OTHER, ["clinician", "manager"], supervisor_of=supervisor_of)[1]
    assert err.value.rule == "medical_file" and EMPLOYEE not in err.value.detail


def test_an_unknown_request_is_refused_like_anothers_file(
    app: AccommodationsApplication, granted: UUID
) -> None:
    from uuid import uuid4

    from domain.errors import NotFound

    unknown = uuid4()
    for act in (lambda i: app.view(i, OTHER, ["manager"], supervisor_of),
                lambda i: app.add_note(i, OTHER, ["manager"], "x", AT),
                lambda i: app.decline(i, OTHER, "x", "", AT)):
        refusals = []
        for request_id in (granted, unknown):
            with pytest.raises(PermissionDenied) as err:
                act(request_id)
            refusals.append((err.value.rule, err.value.detail.replace(str(request_id), "<id>")))
        assert refusals[0] == refusals[1]
    with pytest.raises(NotFound):  # hr may learn that an id names no file
        app.view(unknown, HR, ["hr"], supervisor_of)


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
        lambda: app.view(granted, OTHER, ["clinician"], supervisor_of=supervisor_of)[1],
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
