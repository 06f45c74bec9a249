"""The CRSS record and its progress view, at the edges of every rule [seed: Professional
credentialing — CRSS III-VI]: hours one short, the exam and grant in order, renewal on
the day and a day late, CEUs at 39 and 40."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import AlreadyExists, InvalidInput, NotFound, OutOfOrder, RuleViolation
from domain.staff.credentials import DOMAINS, CrssCredential
from domain.staff.progress import crss_progress
from ops.bootstrap import System

DAY = timedelta(days=1)
LOGGED = date(2022, 12, 30)
APPLIED, EXAM, GRANTED = date(2023, 1, 5), date(2023, 2, 1), date(2023, 3, 1)
DUE_1, DUE_2 = date(2024, 3, 1), date(2025, 3, 1)


def started(work: float = 2000, supervision: float = 100, training: float = 100,
            education: bool = True) -> CrssCredential:
    cred = CrssCredential.start("R-1", date(2022, 1, 3))
    if education:
        cred.record_education("ged", date(2010, 6, 1))
    cred.log_hours("work", work / 2, date(2022, 6, 30), paid=True)
    cred.log_hours("work", work / 2, LOGGED, paid=False)
    for domain in DOMAINS:
        cred.log_hours("supervision", supervision / 4, LOGGED, domain=domain)
    cred.log_hours("training", training, LOGGED)
    return cred


def granted() -> CrssCredential:
    cred = started()
    cred.submit_application(APPLIED)
    cred.record_exam(EXAM, passed=True)
    cred.grant(GRANTED)
    return cred


def flags(cred: CrssCredential, as_of: date) -> dict[str, tuple[str, date | None]]:
    return {f.item: (f.status, f.due_on) for f in crss_progress(cred, as_of).flags}


# -- the road to the credential ---------------------------------------------------------
@pytest.mark.parametrize(
    ("short", "words"),
    [
        ({"work": 1999}, "1 more work hours (1999 of 2000)"),
        ({"supervision": 99}, "1 more supervision hours (99 of 100)"),
        ({"training": 99}, "1 more training hours (99 of 100)"),
        ({"education": False}, "a high school diploma or GED"),
    ],
)
def test_one_short_of_a_requirement_and_the_application_is_refused(
    short: dict[str, float], words: str
) -> None:
    cred = started(**short)  # type: ignore[arg-type]
    with pytest.raises(OutOfOrder, match=words.replace("(", r"\(").replace(")", r"\)")):
        cred.submit_application(APPLIED)
    progress = crss_progress(cred, APPLIED)
    assert progress.stage == "in_progress"
    assert words in progress.remaining


def test_exactly_the_required_hours_make_it_ready_to_apply() -> None:
    cred = started()
    progress = crss_progress(cred, LOGGED)
    assert progress.stage == "ready_to_apply"
    assert [(r.name, r.remaining) for r in progress.requirements if r.done is not None] == [
        ("work_hours", 0.0), ("supervision_hours", 0.0), ("training_hours", 0.0)]
    assert progress.supervision_by_domain == dict.fromkeys(DOMAINS, 25.0)
    assert flags(cred, LOGGED) == {"application": ("due", None)}
    assert crss_progress(cred, LOGGED - DAY).stage == "in_progress"  # hours are dated


def test_one_hour_short_shows_one_hour_remaining() -> None:
    cred = started(work=1999)
    work = crss_progress(cred, LOGGED).requirements[1]
    assert (work.name, work.met, work.done, work.remaining) == ("work_hours", False, 1999.0, 1.0)
    cred.log_hours("work", 1, LOGGED, paid=True)
    cred.submit_application(APPLIED)
    assert crss_progress(cred, APPLIED).stage == "applied"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"category": "work", "hours": 0, "paid": True}, "positive number of quarter hours"),
        ({"category": "work", "hours": 1.3, "paid": True}, "quarter hours"),
        ({"category": "work", "hours": 2001, "paid": True}, "up to 2000"),
        ({"category": "work", "hours": 1}, "say whether the work was paid"),
        ({"category": "supervision", "hours": 1}, "name one of"),
        ({"category": "supervision", "hours": 1, "domain": "charisma"}, "domain must be one of"),
        ({"category": "training", "hours": 1, "domain": "mentoring"}, "and only they"),
        ({"category": "sleep", "hours": 1}, "category must be one of"),
    ],
)
def test_bad_hours_are_named(kw: dict[str, object], message: str) -> None:
    cred = started()
    with pytest.raises(InvalidInput, match=message):
        cred.log_hours(on=LOGGED, **kw)  # type: ignore[arg-type]


def test_the_exam_follows_the_application_and_the_grant_a_passed_exam() -> None:
    cred = started()
    with pytest.raises(OutOfOrder, match="exam follows the submitted application"):
        cred.record_exam(EXAM, passed=True)
    cred.submit_application(APPLIED)
    cred.record_exam(EXAM, passed=False)
    with pytest.raises(OutOfOrder, match="after a passed written exam"):
        cred.grant(GRANTED)
    assert flags(cred, EXAM) == {"exam": ("due", None)}
    cred.record_exam(EXAM + DAY, passed=True)
    with pytest.raises(RuleViolation, match="exam was passed on"):
        cred.record_exam(EXAM + 2 * DAY, passed=True)
    with pytest.raises(OutOfOrder):
        cred.grant(EXAM)  # the day before the passed attempt
    cred.grant(GRANTED)
    progress = crss_progress(cred, GRANTED)
    assert (progress.stage, progress.exam_attempts, progress.remaining) == (
        "in_good_standing", 2, ())


def test_progress_as_of_a_day_ignores_what_came_later() -> None:
    cred = granted()
    assert crss_progress(cred, GRANTED - DAY).stage == "exam_passed"
    assert crss_progress(cred, EXAM - DAY).stage == "applied"
    assert crss_progress(cred, APPLIED - DAY).stage == "ready_to_apply"


# -- renewal ----------------------------------------------------------------------------
def test_renewal_is_flagged_due_within_the_window_and_overdue_the_day_after() -> None:
    cred = granted()
    assert "renewal" not in flags(cred, DUE_1 - 91 * DAY)
    assert flags(cred, DUE_1 - 90 * DAY)["renewal"] == ("due", DUE_1)
    assert flags(cred, DUE_1)["renewal"] == ("due", DUE_1)
    assert cred.in_good_standing(DUE_1)
    assert flags(cred, DUE_1 + DAY)["renewal"] == ("overdue", DUE_1)
    assert not cred.in_good_standing(DUE_1 + DAY)
    assert crss_progress(cred, DUE_1 + DAY).stage == "lapsed"


def test_renewal_on_the_due_date_keeps_good_standing() -> None:
    cred = granted()
    cred.renew(DUE_1)
    assert cred.standing_periods() == [(GRANTED, DUE_2)]
    assert not cred.renewals[0].late
    assert crss_progress(cred, DUE_1 + DAY).renewal_due_on == DUE_2


def test_renewal_a_day_late_is_late_but_leaves_no_lapsed_day() -> None:
    cred = granted()
    cred.renew(DUE_1 + DAY)
    assert cred.renewals[0].late
    assert cred.in_good_standing(DUE_1 + DAY)
    assert cred.standing_periods() == [(GRANTED, DUE_2)]  # the anniversary is kept


def test_renewal_two_days_late_leaves_the_day_between_lapsed() -> None:
    cred = granted()
    cred.renew(DUE_1 + 2 * DAY)
    assert cred.standing_periods() == [(GRANTED, DUE_1), (DUE_1 + 2 * DAY, DUE_2)]
    assert not cred.in_good_standing(DUE_1 + DAY)
    assert crss_progress(cred, DUE_1 + DAY).stage == "lapsed"
    assert crss_progress(cred, DUE_1 + 2 * DAY).stage == "in_good_standing"


def test_renewal_before_its_window_or_a_year_late_is_refused() -> None:
    cred = granted()
    with pytest.raises(RuleViolation, match="can be recorded from 2023-12-02"):
        cred.renew(DUE_1 - 91 * DAY)
    with pytest.raises(RuleViolation, match="a year late: reapply"):
        cred.renew(DUE_2)
    cred.renew(DUE_1 - 90 * DAY)


def test_renewal_before_the_grant_is_out_of_order() -> None:
    with pytest.raises(OutOfOrder, match="cannot renew before the CRSS is granted"):
        started().renew(DUE_1)


# -- CEUs -------------------------------------------------------------------------------
def test_ceus_before_the_grant_are_out_of_order() -> None:
    cred = started()
    with pytest.raises(OutOfOrder, match="continuing education"):
        cred.log_hours("ceu", 1, LOGGED)


@pytest.mark.parametrize(("hours", "renews"), [(39, False), (40, True)])
def test_the_second_renewal_needs_40_ceu_hours(hours: float, renews: bool) -> None:
    cred = granted()
    cred.renew(DUE_1)
    cred.log_hours("ceu", hours, date(2024, 9, 1))
    if renews:
        cred.renew(DUE_2)
        assert cred.renewal_due_on == date(2026, 3, 1)
        return
    with pytest.raises(RuleViolation, match="needs 40 CEU hours .* 39 are recorded") as e:
        cred.renew(DUE_2)
    assert e.value.rule == "ceus_required"


def test_ceus_at_39_are_flagged_due_then_overdue_and_at_40_not_at_all() -> None:
    cred = granted()
    cred.renew(DUE_1)
    cred.log_hours("ceu", 39, date(2024, 9, 1))
    assert "ceus" not in flags(cred, DUE_2 - 91 * DAY)
    assert flags(cred, DUE_2 - 90 * DAY)["ceus"] == ("due", DUE_2)
    assert crss_progress(cred, DUE_2).ceus.remaining == 1.0  # type: ignore[union-attr]
    assert flags(cred, DUE_2 + DAY)["ceus"] == ("overdue", DUE_2)
    cred.log_hours("ceu", 1, DUE_2 - DAY)
    assert "ceus" not in flags(cred, DUE_2 + DAY)


def test_the_first_renewal_needs_no_ceus_and_the_next_cycle_starts_fresh() -> None:
    cred = granted()
    cred.renew(DUE_1)
    cred.log_hours("ceu", 40, date(2024, 9, 1))
    cred.renew(DUE_2)
    ceus = crss_progress(cred, DUE_2 + DAY).ceus
    assert ceus is not None
    assert (ceus.starts_on, ceus.due_on, ceus.done) == (DUE_2 + DAY, date(2027, 3, 1), 0.0)


def test_a_late_renewal_counts_ceus_made_up_before_it_and_not_again() -> None:
    cred = granted()
    cred.renew(DUE_1)
    cred.log_hours("ceu", 30, date(2024, 9, 1))
    cred.log_hours("ceu", 10, DUE_2 + 5 * DAY)  # made up after the cycle ended
    cred.renew(DUE_2 + 5 * DAY)
    assert cred.standing_periods() == [(GRANTED, DUE_2), (DUE_2 + 5 * DAY, date(2026, 3, 1))]
    ceus = crss_progress(cred, DUE_2 + 6 * DAY).ceus
    assert ceus is not None and (ceus.starts_on, ceus.done) == (DUE_2 + 6 * DAY, 0.0)


# -- through the application ------------------------------------------------------------
def test_one_crss_record_per_existing_staff_member(memory_system: System) -> None:
    careers = memory_system.careers
    with pytest.raises(NotFound, match="staff member R-1 does not exist"):
        careers.start_crss("R-1", date(2022, 1, 3))
    memory_system.staff.hire("R-1", "R", "recovery_support_specialist", ["peer_staff"],
                             date(2021, 1, 4))
    careers.start_crss("R-1", date(2022, 1, 3))
    with pytest.raises(AlreadyExists, match="already has a CRSS record"):
        careers.start_crss("R-1", date(2022, 1, 3))
    with pytest.raises(NotFound, match="the CRSS record of staff member R-2 does not exist"):
        careers.progress("R-2", LOGGED)
    careers.log_hours("R-1", "supervision", 2.5, LOGGED, domain="mentoring")
    assert careers.progress("R-1", LOGGED).supervision_by_domain["mentoring"] == 2.5
