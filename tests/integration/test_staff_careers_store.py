"""Every career event round-trips through the encrypted store on SQLite and PostgreSQL:
the CRSS record, Rule 132 facts and trainings under the staff member's own data key,
teams under their own; no plain text of them in the stored bytes."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.base import KEK_EVENTS
from domain.staff.aggregate import staff_uuid
from domain.staff.careers import StaffCareerApplication
from domain.staff.credentials import DOMAINS, crss_uuid
from domain.staff.facts import COMPETENCIES, facts_uuid
from domain.staff.team_index import TEAM_INDEX_ID
from domain.staff.teams import team_uuid
from domain.staff.trainings import trainings_uuid
from ops.bootstrap import System

PEER, MANAGER = "rss-7", "mgr-7"
TEAM_NAME = "Riverside assertive team 4be1"


def every_event(app: StaffCareerApplication) -> None:
    app.start_crss(PEER, date(2021, 1, 4))
    app.record_education(PEER, "high_school_diploma", date(2012, 6, 1))
    app.log_hours(PEER, "work", 2000, date(2022, 1, 3), paid=False)
    for domain in DOMAINS:
        app.log_hours(PEER, "supervision", 25, date(2022, 1, 3), domain=domain)
    app.log_hours(PEER, "training", 100, date(2022, 1, 3))
    app.submit_application(PEER, date(2022, 1, 4))
    app.record_exam(PEER, date(2022, 2, 1), False)
    app.record_exam(PEER, date(2022, 3, 1), True)
    app.grant_crss(PEER, date(2022, 3, 15))
    app.renew_crss(PEER, date(2023, 3, 17))
    app.log_hours(PEER, "ceu", 40.25, date(2023, 9, 1))
    app.renew_crss(PEER, date(2024, 3, 1))
    app.record_birth_date(PEER, date(1988, 8, 8))
    app.record_award(PEER, "prcp_certificate", date(2020, 5, 1))
    app.record_experience(PEER, "mental_health_services", date(2021, 1, 4), None, True)
    app.end_experience(PEER, 0, date(2024, 1, 5))
    for competency in COMPETENCIES:
        app.attest(PEER, competency, MANAGER, date(2022, 6, 1))
    app.form_team("ACT-7", "ACT", TEAM_NAME, date(2022, 1, 3))
    app.join_team("ACT-7", PEER, date(2022, 4, 1))
    app.leave_team("ACT-7", PEER, date(2024, 2, 1))
    app.record_training(PEER, "rss_boundaries_and_role_conflicts", date(2022, 5, 2), 3.5)


def hire(system: System) -> None:
    system.staff.hire(MANAGER, "M. Anager", "program_manager", ["manager"], date(2020, 1, 6))
    system.staff.hire(PEER, "R. Specialist", "recovery_support_specialist", ["peer_staff"],
                      date(2021, 1, 4), supervisor_id=MANAGER)


IDS = (crss_uuid(PEER), facts_uuid(PEER), trainings_uuid(PEER), team_uuid("ACT-7"),
       TEAM_INDEX_ID)


def test_every_event_round_trips_encrypted(system: System) -> None:
    hire(system)
    every_event(system.careers)
    fresh = StaffCareerApplication(system.infrastructure, system.staff)
    for aggregate_id in IDS:
        assert vars(fresh.repository.get(aggregate_id)) == vars(
            system.careers.repository.get(aggregate_id))
    progress = fresh.progress(PEER, date(2024, 3, 2))
    assert (progress.stage, progress.renewal_due_on) == ("in_good_standing", date(2025, 3, 15))
    assert fresh.team("ACT-7").members[0].left_on == date(2024, 2, 1)
    rsa, mhp = fresh.qualifications(PEER, date(2023, 1, 1))
    assert rsa.met and mhp.met


def test_staff_records_use_the_members_key_and_no_plain_text_is_stored(system: System) -> None:
    hire(system)
    every_event(system.careers)
    member_key = system.keyring.store.find(KEK_EVENTS, staff_uuid(PEER))
    assert member_key is not None
    recorder = system.infrastructure.recorder
    for aggregate_id in IDS:
        rows = recorder.select_events(aggregate_id)
        assert rows
        for row in rows:
            state = bytes(row.state)
            key_id = UUID(bytes=state[1:17])
            assert (key_id == member_key.key_id) == (aggregate_id in IDS[:3])
            for plain in (PEER, TEAM_NAME, "prcp_certificate", "1988-08-08", "supervision"):
                assert plain.encode() not in state
