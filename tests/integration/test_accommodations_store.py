"""Every accommodation event round-trips through the encrypted store on SQLite and
PostgreSQL, sealed under the medical key, with no medical text in the stored bytes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from domain.accommodations import AccommodationsApplication
from domain.base import KEK_MEDICAL, KeyScope
from domain.staff.aggregate import staff_uuid
from ops.bootstrap import System

EMPLOYEE, HR = "rss-7", "hr-7"
CONDITION = "opioid use disorder in sustained remission, methadone dosing at 07:30"
NOTE = "discussed-dosing-window-9f2c"
HARDSHIP = "only clinician on shift; second hire cost exceeds budget"
AT = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


def hire(system: System) -> None:
    system.staff.hire(HR, "H. Resources", "hr_specialist", ["hr"], date(2020, 1, 1))
    system.staff.hire(
        EMPLOYEE, "R. Specialist", "recovery_support_specialist", ["peer_staff"], date(2023, 1, 9)
    )


def every_event(app: AccommodationsApplication) -> tuple[UUID, UUID]:
    """One request offered, declined, granted and declined again; one denied."""
    granted, _ = app.file(EMPLOYEE, EMPLOYEE, CONDITION, "late start", "intake", date(2024, 5, 1))
    app.add_note(granted, EMPLOYEE, ["peer_staff"], NOTE, AT)
    app.offer(granted, HR, ["hr"], "split shift", AT)
    app.decline(granted, EMPLOYEE, "split shift", "not needed", AT)
    app.grant(granted, HR, ["hr"], "start at 09:00", date(2024, 5, 6), AT)
    app.decline(granted, EMPLOYEE, "start at 09:00", "", AT)
    denied, _ = app.file(EMPLOYEE, EMPLOYEE, CONDITION, "second shift", None, date(2024, 5, 1))
    app.deny(denied, HR, ["hr"], HARDSHIP, AT)
    return granted, denied


def test_every_event_round_trips_encrypted(system: System) -> None:
    hire(system)
    app = AccommodationsApplication(system.infrastructure)
    granted, denied = every_event(app)
    fresh = AccommodationsApplication(system.infrastructure)
    for request_id in (granted, denied):
        assert vars(fresh.get(request_id)) == vars(app.get(request_id))
    assert fresh.get(granted).status == "declined"
    assert fresh.get(denied).for_hr()["decision"]["undue_hardship"] == HARDSHIP


def test_no_medical_text_in_the_stored_bytes(system: System) -> None:
    hire(system)
    granted, denied = every_event(AccommodationsApplication(system.infrastructure))
    stored = system.keyring.stored_scope(KeyScope(KEK_MEDICAL, staff_uuid(EMPLOYEE)))
    assert system.keyring.store.find(KEK_MEDICAL, staff_uuid(EMPLOYEE)) is None  # blinded
    medical = system.keyring.store.find(KEK_MEDICAL, stored.subject_id)
    assert medical is not None
    for request_id in (granted, denied):
        for row in system.infrastructure.recorder.select_events(request_id):
            state = bytes(row.state)
            assert UUID(bytes=state[1:17]) == medical.key_id
            for secret in (CONDITION, NOTE, HARDSHIP, "methadone"):
                assert secret.encode() not in state
