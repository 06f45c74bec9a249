"""CST and ACT teams must include a CRSS [seed: Medicaid billing I.B]: a team without one
is incomplete from the day it lost it (its only CRSS left, left the agency, or let the
credential lapse). And the staff trainings of the seed, per job title."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.staff.credentials import DOMAINS
from domain.staff.jobs import CATALOGUE
from domain.staff.teams import MemberCredential, Team, team_status
from domain.staff.trainings import TrainingRecord, training_status
from ops.bootstrap import System

DAY = timedelta(days=1)
FORMED = date(2023, 1, 2)
ALWAYS = MemberCredential(((date(2020, 1, 1), date(2030, 1, 1)),))


def team(*members: tuple[str, date]) -> Team:
    t = Team.form("CST-1", "CST", "North", FORMED)
    for staff_id, joined_on in members:
        t.join(staff_id, joined_on)
    return t


def test_a_team_losing_its_only_crss_is_incomplete_from_the_day_it_left() -> None:
    t = team(("R-1", FORMED), ("C-1", FORMED))
    left = date(2024, 6, 1)
    t.leave("R-1", left)
    creds = {"R-1": ALWAYS, "C-1": MemberCredential()}
    assert team_status(t, creds, left - DAY).complete
    status = team_status(t, creds, left)
    assert (status.complete, status.incomplete_since) == (False, left)
    assert status.reason == "R-1 left the team on 2024-06-01"
    assert team_status(t, creds, date(2025, 1, 1)).incomplete_since == left


def test_a_second_crss_keeps_the_team_complete_until_it_lapses() -> None:
    t = team(("R-1", FORMED), ("R-2", FORMED))
    t.leave("R-1", date(2024, 6, 1))
    lapses = MemberCredential(((date(2022, 1, 1), date(2024, 9, 30)),))
    creds = {"R-1": ALWAYS, "R-2": lapses}
    assert team_status(t, creds, date(2024, 7, 1)).crss_members == ("R-2",)
    status = team_status(t, creds, date(2024, 10, 1))
    assert status.incomplete_since == date(2024, 10, 1)
    assert status.reason == "the CRSS of R-2 lapsed on 2024-10-01"


def test_a_handover_on_the_same_day_keeps_the_team_complete() -> None:
    t = team(("R-1", FORMED))
    t.leave("R-1", date(2024, 6, 1))
    t.join("R-2", date(2024, 6, 1))
    creds = {"R-1": ALWAYS, "R-2": ALWAYS}
    assert team_status(t, creds, date(2024, 6, 1)).crss_members == ("R-2",)


def test_a_team_that_never_had_a_crss_is_incomplete_since_it_was_formed() -> None:
    status = team_status(team(("C-1", FORMED)), {"C-1": MemberCredential()}, date(2024, 1, 1))
    assert (status.incomplete_since, status.reason) == (
        FORMED, "the team has never included a CRSS")


def test_a_crss_leaving_the_agency_leaves_the_team() -> None:
    t = team(("R-1", FORMED))
    creds = {"R-1": MemberCredential(ALWAYS.standing, separated_on=date(2024, 3, 1))}
    status = team_status(t, creds, date(2024, 3, 1))
    assert (status.incomplete_since, status.reason) == (
        date(2024, 3, 1), "R-1 left the agency on 2024-03-01")


def test_membership_rules() -> None:
    t = team(("R-1", FORMED))
    with pytest.raises(InvalidInput, match="formed on 2023-01-02"):
        t.join("R-2", FORMED - DAY)
    with pytest.raises(RuleViolation, match="R-1 is on team CST-1"):
        t.join("R-1", FORMED)
    with pytest.raises(NotFound, match="R-2 is not on team CST-1"):
        t.leave("R-2", FORMED)
    t.leave("R-1", date(2023, 6, 1))
    with pytest.raises(InvalidInput, match="left team CST-1 on 2023-06-01"):
        t.join("R-1", date(2023, 5, 1))
    t.join("R-1", date(2023, 7, 1))
    assert t.members_on(date(2023, 6, 15)) == [] and t.members_on(date(2023, 7, 1)) == ["R-1"]
    with pytest.raises(InvalidInput, match="team kind must be one of"):
        Team.form("X", "club", "X", FORMED)


def grant_crss(system: System, staff_id: str, granted_on: date) -> None:
    careers = system.careers
    careers.start_crss(staff_id, date(2021, 1, 4))
    careers.record_education(staff_id, "ged", date(2010, 6, 1))
    careers.log_hours(staff_id, "work", 1000, date(2022, 1, 3), paid=True)
    careers.log_hours(staff_id, "work", 1000, date(2022, 1, 3), paid=False)
    for domain in DOMAINS:
        careers.log_hours(staff_id, "supervision", 25, date(2022, 1, 3), domain=domain)
    careers.log_hours(staff_id, "training", 100, date(2022, 1, 3))
    careers.submit_application(staff_id, date(2022, 1, 4))
    careers.record_exam(staff_id, date(2022, 2, 1), True)
    careers.grant_crss(staff_id, granted_on)


def test_through_the_application_the_lapse_date_comes_from_the_credential(
    memory_system: System
) -> None:
    memory_system.staff.hire("R-1", "R", "recovery_support_specialist", ["peer_staff"],
                             date(2021, 1, 4))
    grant_crss(memory_system, "R-1", date(2022, 3, 1))
    careers = memory_system.careers
    careers.form_team("ACT-1", "ACT", "Assertive", FORMED)
    careers.join_team("ACT-1", "R-1", FORMED)
    status = careers.team_status(careers.team("ACT-1"), date(2023, 3, 2))
    assert (status.complete, status.incomplete_since) == (False, date(2023, 3, 2))
    assert status.reason == "the CRSS of R-1 lapsed on 2023-03-02"
    careers.renew_crss("R-1", date(2023, 3, 1))
    assert careers.team_status(careers.team("ACT-1"), date(2023, 3, 2)).complete
    assert [t.team_id for t in careers.teams()] == ["ACT-1"]


def test_separated_staff_cannot_join(memory_system: System) -> None:
    memory_system.staff.hire("R-1", "R", "recovery_coach", ["peer_staff"], date(2021, 1, 4))
    memory_system.staff.separate("R-1", date(2023, 1, 1), "resigned")
    memory_system.careers.form_team("CST-1", "CST", "North", FORMED)
    with pytest.raises(RuleViolation, match="separated on 2023-01-01"):
        memory_system.careers.join_team("CST-1", "R-1", FORMED)


# -- trainings [seed: Staff training] -----------------------------------------------------
def test_peer_titles_require_the_rss_trainings_and_others_do_not() -> None:
    record = TrainingRecord("R-1")
    record.complete("the_vision", date(2023, 2, 1), hours=2)
    peer = training_status(record, CATALOGUE["recovery_coach"], date(2023, 2, 1))
    assert [(s.training.code, s.required, s.completed_on) for s in peer] == [
        ("the_vision", True, date(2023, 2, 1)),
        ("person_first_language", True, None),
        ("returning_after_absence", True, None),
        ("rss_practical_skills", True, None),
        ("rss_boundaries_and_role_conflicts", True, None),
    ]
    other = training_status(record, CATALOGUE["clinician"], date(2023, 1, 31))
    assert [s.required for s in other] == [True, True, True, False, False]
    assert other[0].completed_on is None  # completed the day after


def test_training_completions_are_checked() -> None:
    record = TrainingRecord("R-1")
    with pytest.raises(InvalidInput, match="training must be one of"):
        record.complete("juggling", date(2023, 2, 1))
    with pytest.raises(InvalidInput, match="hours must be more than 0"):
        record.complete("the_vision", date(2023, 2, 1), hours=0)
    record.complete("the_vision", date(2023, 2, 1))
    with pytest.raises(RuleViolation, match="already recorded on 2023-02-01"):
        record.complete("the_vision", date(2023, 2, 1))
    record.complete("the_vision", date(2024, 2, 1))  # a refresher
    latest = training_status(record, CATALOGUE["clinician"], date(2025, 1, 1))[0]
    assert latest.completed_on == date(2024, 2, 1)
