"""The pure rules of dual-relationship cases: the two-year rule at its edges, the
reporting window, the look-back arithmetic, the queue's due dates and the roles."""

from __future__ import annotations

from datetime import date

import pytest

from domain.dual_relationships.rules import (
    Actor,
    DualRelationshipPolicy,
    TwoYearFinding,
    add_months,
    days_late,
    due_dates,
    report_deadline,
    require_discloser,
    require_role,
    two_year_rule,
)
from domain.errors import InvalidInput, PermissionDenied

COUNTY = DualRelationshipPolicy()
NEVER = DualRelationshipPolicy(lookback_months=None)
CLOSED = date(2022, 3, 1)  # two years later: 2024-03-01 (a leap year in between)


def closed_case(
    began_on: date,
    ended_on: date | None = None,
    kind: str = "romantic",
    policy: DualRelationshipPolicy = COUNTY,
) -> TwoYearFinding:
    return two_year_rule(kind, "closed", CLOSED, began_on, ended_on, policy)


# --- the two-year rule ---------------------------------------------------------------


def test_a_relationship_beginning_one_day_short_of_two_years_after_closing_is_prohibited() -> None:
    finding = closed_case(date(2024, 2, 29))
    assert finding.prohibited
    assert "24-month look-back" in finding.reason and "2022-03-01" in finding.reason


def test_a_relationship_beginning_exactly_two_years_after_closing_is_allowed() -> None:
    finding = closed_case(date(2024, 3, 1))
    assert not finding.prohibited
    assert "2024-03-01" in finding.reason


def test_a_relationship_that_ended_the_day_before_the_case_closed_is_allowed() -> None:
    finding = closed_case(date(2021, 1, 1), ended_on=date(2022, 2, 28))
    assert not finding.prohibited
    assert "ended before" in finding.reason


def test_a_relationship_that_ended_on_the_closing_day_is_prohibited() -> None:
    assert closed_case(date(2021, 1, 1), ended_on=CLOSED).prohibited


def test_an_ongoing_relationship_begun_before_closing_is_prohibited() -> None:
    assert closed_case(date(2021, 1, 1)).prohibited


def test_a_sexual_relationship_is_covered_like_a_romantic_one() -> None:
    assert closed_case(date(2024, 2, 29), kind="sexual").prohibited


@pytest.mark.parametrize("kind", ["social", "financial", "other"])
def test_other_kinds_are_not_covered_by_the_two_year_rule(kind: str) -> None:
    finding = two_year_rule(kind, "open", None, date(2024, 1, 1), None, COUNTY)
    assert not finding.prohibited
    assert "not covered" in finding.reason


def test_a_romantic_relationship_with_a_current_client_is_prohibited() -> None:
    finding = two_year_rule("romantic", "open", None, date(2010, 1, 1), None, NEVER)
    assert finding.prohibited
    assert "current client" in finding.reason


def test_a_never_look_back_prohibits_a_relationship_decades_after_closing() -> None:
    finding = closed_case(date(2060, 1, 1), policy=NEVER)
    assert finding.prohibited
    assert "without end" in finding.reason


def test_a_never_look_back_still_allows_a_relationship_that_ended_before_closing() -> None:
    assert not closed_case(date(2020, 1, 1), ended_on=date(2022, 2, 28), policy=NEVER).prohibited


def test_a_shorter_look_back_is_a_setting() -> None:
    six_months = DualRelationshipPolicy(lookback_months=6)
    assert closed_case(date(2022, 8, 31), policy=six_months).prohibited
    assert not closed_case(date(2022, 9, 1), policy=six_months).prohibited


def test_adding_months_clamps_to_the_end_of_a_shorter_month() -> None:
    assert add_months(date(2024, 2, 29), 24) == date(2026, 2, 28)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 11, 15), 3) == date(2024, 2, 15)


# --- prompt reporting ---------------------------------------------------------------

HIRED = date(2024, 1, 8)  # 30 days later: 2024-02-07


def test_a_prior_relationship_reported_on_the_deadline_is_on_time() -> None:
    assert report_deadline(True, HIRED, COUNTY) == date(2024, 2, 7)
    assert days_late(True, HIRED, date(2024, 2, 7), COUNTY) == 0


def test_a_prior_relationship_reported_the_day_after_the_deadline_is_one_day_late() -> None:
    assert days_late(True, HIRED, date(2024, 2, 8), COUNTY) == 1


def test_a_relationship_begun_after_hire_has_no_reporting_deadline() -> None:
    assert report_deadline(False, HIRED, COUNTY) is None
    assert days_late(False, HIRED, date(2025, 1, 1), COUNTY) == 0


def test_the_reporting_window_is_a_setting() -> None:
    ten_days = DualRelationshipPolicy(report_within_days=10)
    assert days_late(True, HIRED, date(2024, 1, 18), ten_days) == 0
    assert days_late(True, HIRED, date(2024, 1, 21), ten_days) == 3


def test_a_negative_setting_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="report_within_days"):
        DualRelationshipPolicy(report_within_days=-1)


# --- the queue's due dates -----------------------------------------------------------


def test_only_referral_is_due_before_referral() -> None:
    assert due_dates(date(2024, 5, 1), None, None, None, COUNTY) == {"referral": date(2024, 5, 6)}


def test_guidance_and_recommendation_fall_due_after_referral() -> None:
    due = due_dates(date(2024, 5, 1), date(2024, 5, 3), None, None, COUNTY)
    assert (due["guidance"], due["recommendation"]) == (date(2024, 5, 17), date(2024, 5, 17))
    assert "decision" not in due


def test_the_decision_falls_due_after_the_later_of_guidance_and_recommendation() -> None:
    due = due_dates(date(2024, 5, 1), date(2024, 5, 3), date(2024, 5, 10), date(2024, 5, 8), COUNTY)
    assert due["decision"] == date(2024, 5, 24)


# --- roles ----------------------------------------------------------------------------


def test_a_role_check_returns_the_role_acted_under() -> None:
    assert require_role("waiver", Actor("D-1", frozenset({"director", "manager"}))) == "director"


def test_a_role_check_refuses_naming_the_rule() -> None:
    with pytest.raises(PermissionDenied) as refused:
        require_role("close", Actor("M-1", frozenset({"manager"})))
    assert refused.value.rule == "close_requires_clinical_deputy_or_director"


def test_the_staff_member_or_a_manager_may_disclose() -> None:
    assert require_discloser(Actor("S-7", frozenset()), "S-7") == "self"
    assert require_discloser(Actor("M-1", frozenset({"manager"})), "S-7") == "manager"
    with pytest.raises(PermissionDenied) as refused:
        require_discloser(Actor("C-1", frozenset({"clinician"})), "S-7")
    assert refused.value.rule == "disclose_requires_self_or_manager"
