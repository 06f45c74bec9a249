"""Dual-relationship cases refuse steps out of order, repeated, by the wrong role, on
one's own case, or against the two-year rule; a refused step changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from uuid import UUID, uuid4

import pytest

from domain.dual_relationships import Actor, DualRelationshipsApplication
from domain.errors import InvalidInput, NotFound, OutOfOrder, PermissionDenied, RuleViolation
from tests.unit.test_dual_relationships import (
    COUNSEL,
    DEPUTY,
    DIRECTOR,
    DISCLOSURE,
    MANAGER,
    NOW,
    STAFF,
    app,
    decided,
    disclose,
    to_decision,
)

__all__ = ["app"]  # the fixture, shared with the main test module

App = DualRelationshipsApplication
D1, D2 = date(2024, 2, 10), date(2024, 2, 11)


def refused_without_change(app: App, case_id: UUID, step: Callable[[], object]) -> Exception:
    before = app.get(case_id)
    with pytest.raises(Exception) as refused:
        step()
    assert app.get(case_id) == before
    return refused.value


# --- out of order -------------------------------------------------------------------------

BEFORE_REFERRAL: list[tuple[str, Callable[[App, UUID], object]]] = [
    ("waiver", lambda a, c: a.waive_guidance(c, DEPUTY, "urgent", D1)),
    ("recommendation", lambda a, c: a.recommend(c, DEPUTY, "reassign", "why", D1)),
    ("decision", lambda a, c: a.decide(c, DIRECTOR, "reassign", [], D1)),
    ("condition", lambda a, c: a.condition_met(c, 0, MANAGER, D1)),
    ("close", lambda a, c: a.close_case(c, DIRECTOR, D1)),
]


@pytest.mark.parametrize(("name", "step"), BEFORE_REFERRAL, ids=[n for n, _ in BEFORE_REFERRAL])
def test_no_step_comes_before_the_referral(
    app: App, name: str, step: Callable[[App, UUID], object]
) -> None:
    case_id = disclose(app)
    assert isinstance(refused_without_change(app, case_id, lambda: step(app, case_id)), OutOfOrder)


def test_county_counsel_sees_no_case_before_its_referral(app: App) -> None:
    case_id = disclose(app)
    refused = refused_without_change(
        app, case_id, lambda: app.record_guidance(case_id, COUNSEL, "advice", D1))
    assert isinstance(refused, PermissionDenied) and refused.rule == "dual_relationship_reader"


def test_a_manager_steps_only_the_cases_it_handles(app: App) -> None:
    case_id = disclose(app)
    other = Actor("M-9", frozenset({"manager"}))
    refused = refused_without_change(app, case_id, lambda: app.refer(case_id, other, D1))
    assert isinstance(refused, PermissionDenied) and refused.rule == "dual_relationship_reader"


def test_a_case_is_referred_only_once(app: App) -> None:
    case_id = disclose(app)
    app.refer(case_id, MANAGER, D1)
    with pytest.raises(OutOfOrder, match="already referred on 2024-02-10"):
        app.refer(case_id, MANAGER, D2)


def referred(app: App) -> UUID:
    case_id = disclose(app)
    app.refer(case_id, MANAGER, D1)
    return case_id


def test_a_decision_needs_the_recommendation(app: App) -> None:
    case_id = referred(app)
    app.record_guidance(case_id, COUNSEL, "advice", D1)
    with pytest.raises(OutOfOrder, match="needs the Clinical Deputy's recommendation first"):
        app.decide(case_id, DIRECTOR, "reassign", [], D2)


def test_a_decision_needs_guidance_or_a_waiver(app: App) -> None:
    case_id = referred(app)
    app.recommend(case_id, DEPUTY, "reassign", "why", D1)
    with pytest.raises(OutOfOrder, match=r"needs County Counsel's guidance \(or a recorded waiver"):
        app.decide(case_id, DIRECTOR, "reassign", [], D2)


def test_a_decision_names_everything_missing(app: App) -> None:
    case_id = referred(app)
    with pytest.raises(OutOfOrder, match="guidance .* and the Clinical Deputy's recommendation"):
        app.decide(case_id, DIRECTOR, "reassign", [], D2)


def test_guidance_cannot_follow_a_waiver(app: App) -> None:
    case_id = referred(app)
    app.waive_guidance(case_id, DIRECTOR, "urgent", D1)
    with pytest.raises(OutOfOrder, match="a waiver of guidance was already recorded"):
        app.record_guidance(case_id, COUNSEL, "advice", D2)


def test_a_waiver_cannot_follow_guidance(app: App) -> None:
    case_id = referred(app)
    app.record_guidance(case_id, COUNSEL, "advice", D1)
    with pytest.raises(OutOfOrder, match="guidance was already recorded"):
        app.waive_guidance(case_id, DEPUTY, "urgent", D2)


def test_guidance_is_recorded_only_once(app: App) -> None:
    case_id = referred(app)
    app.record_guidance(case_id, COUNSEL, "advice", D1)
    with pytest.raises(OutOfOrder, match="guidance was already recorded"):
        app.record_guidance(case_id, COUNSEL, "more advice", D2)


def test_a_recommendation_is_recorded_only_once(app: App) -> None:
    case_id = referred(app)
    app.recommend(case_id, DEPUTY, "reassign", "why", D1)
    with pytest.raises(OutOfOrder, match="already recorded on 2024-02-10"):
        app.recommend(case_id, DEPUTY, "relationship_must_end", "why", D2)


def test_a_case_is_decided_only_once(app: App) -> None:
    case_id = decided(app)
    with pytest.raises(OutOfOrder, match="decided on 2024-02-05"):
        app.decide(case_id, DIRECTOR, "reassign", [], D2)


AFTER_DECISION: list[tuple[str, Callable[[App, UUID], object]]] = [
    ("guidance", lambda a, c: a.record_guidance(c, COUNSEL, "late advice", D1)),
    ("waiver", lambda a, c: a.waive_guidance(c, DIRECTOR, "late", D1)),
    ("recommendation", lambda a, c: a.recommend(c, DEPUTY, "reassign", "late", D1)),
]


@pytest.mark.parametrize(("name", "step"), AFTER_DECISION, ids=[n for n, _ in AFTER_DECISION])
def test_no_input_is_taken_after_the_decision(
    app: App, name: str, step: Callable[[App, UUID], object]
) -> None:
    case_id = to_decision(app)
    app.decide(case_id, DIRECTOR, "reassign", [], D1)
    error = refused_without_change(app, case_id, lambda: step(app, case_id))
    assert isinstance(error, OutOfOrder)


def test_a_condition_is_met_only_once(app: App) -> None:
    case_id = decided(app)
    app.condition_met(case_id, 0, MANAGER, D1)
    with pytest.raises(OutOfOrder, match="condition 0 was already met on 2024-02-10"):
        app.condition_met(case_id, 0, DEPUTY, D2)


def test_a_condition_that_does_not_exist_is_refused(app: App) -> None:
    case_id = decided(app)
    with pytest.raises(InvalidInput, match="no condition 2; it has 2 condition"):
        app.condition_met(case_id, 2, MANAGER, D1)


def test_a_case_with_unmet_conditions_cannot_close(app: App) -> None:
    case_id = decided(app)
    app.condition_met(case_id, 0, MANAGER, D1)
    with pytest.raises(OutOfOrder, match=r"condition\(s\) \[1\] are not met yet"):
        app.close_case(case_id, DIRECTOR, D2)


AFTER_CLOSE: list[tuple[str, Callable[[App, UUID], object]]] = [
    ("refer", lambda a, c: a.refer(c, MANAGER, D2)),
    ("condition", lambda a, c: a.condition_met(c, 0, MANAGER, D2)),
    ("close", lambda a, c: a.close_case(c, DIRECTOR, D2)),
]


@pytest.mark.parametrize(("name", "step"), AFTER_CLOSE, ids=[n for n, _ in AFTER_CLOSE])
def test_nothing_is_recorded_on_a_closed_case(
    app: App, name: str, step: Callable[[App, UUID], object]
) -> None:
    case_id = to_decision(app)
    app.decide(case_id, DIRECTOR, "reassign", ["done"], D1)
    app.condition_met(case_id, 0, MANAGER, D1)
    app.close_case(case_id, DIRECTOR, D1)
    error = refused_without_change(app, case_id, lambda: step(app, case_id))
    assert isinstance(error, OutOfOrder) and "was closed on 2024-02-10" in str(error)


def test_a_step_dated_before_the_previous_step_is_refused(app: App) -> None:
    case_id = referred(app)
    with pytest.raises(
        InvalidInput, match="2024-02-09 is before the case's last step on 2024-02-10"
    ):
        app.recommend(case_id, DEPUTY, "reassign", "why", date(2024, 2, 9))


def test_a_referral_dated_before_the_disclosure_is_refused(app: App) -> None:
    case_id = disclose(app)
    with pytest.raises(InvalidInput, match="before the case's last step on 2024-01-20"):
        app.refer(case_id, MANAGER, date(2024, 1, 19))


def test_a_step_on_an_unknown_case_is_refused_like_anothers(app: App) -> None:
    """Only the Director's office and the Clinical Deputy learn that an id names no case."""
    with pytest.raises(PermissionDenied, match="dual-relationship case"):
        app.refer(uuid4(), MANAGER, D1)
    with pytest.raises(NotFound):
        app.recommend(uuid4(), DEPUTY, "reassign", "why", D1)


# --- wrong role -----------------------------------------------------------------------------

CLINICIAN = Actor("CL-1", frozenset({"clinician", "peer_staff"}))

WRONG_ROLES: list[tuple[str, Actor, Callable[[App, UUID, Actor], object]]] = [
    ("refer_requires_manager", DEPUTY, lambda a, c, x: a.refer(c, x, D1)),
    ("guidance_requires_county_counsel", DIRECTOR, lambda a, c, x: a.record_guidance(c, x, "g", D1)),
    ("waiver_requires_clinical_deputy_or_director", COUNSEL,
     lambda a, c, x: a.waive_guidance(c, x, "r", D1)),
    ("waiver_requires_clinical_deputy_or_director", MANAGER,
     lambda a, c, x: a.waive_guidance(c, x, "r", D1)),
    ("recommendation_requires_clinical_deputy", DIRECTOR,
     lambda a, c, x: a.recommend(c, x, "reassign", "why", D1)),
    ("decision_requires_director", DEPUTY, lambda a, c, x: a.decide(c, x, "reassign", [], D1)),
    ("condition_met_requires_manager_or_clinical_deputy_or_director", COUNSEL,
     lambda a, c, x: a.condition_met(c, 0, x, D1)),
    ("condition_met_requires_manager_or_clinical_deputy_or_director", CLINICIAN,
     lambda a, c, x: a.condition_met(c, 0, x, D1)),
    ("close_requires_clinical_deputy_or_director", MANAGER, lambda a, c, x: a.close_case(c, x, D1)),
    ("close_requires_clinical_deputy_or_director", STAFF, lambda a, c, x: a.close_case(c, x, D1)),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "actor", "step"), WRONG_ROLES, ids=[r for r, *_ in WRONG_ROLES])
def test_a_step_by_the_wrong_role_is_refused_naming_the_rule(
    app: App, rule: str, actor: Actor, step: Callable[[App, UUID, Actor], object]
) -> None:
    case_id = disclose(app)
    error = refused_without_change(app, case_id, lambda: step(app, case_id, actor))
    assert isinstance(error, PermissionDenied) and error.rule == rule
    assert actor.staff_id in error.detail


def test_the_role_is_checked_before_the_case_is_looked_up(app: App) -> None:
    with pytest.raises(PermissionDenied):
        app.decide(uuid4(), DEPUTY, "reassign", [], D1)


def test_nobody_takes_a_step_on_their_own_case(app: App) -> None:
    own_manager = Actor("S-7", frozenset({"manager", "clinical_deputy"}))
    case_id, _ = app.disclose(own_manager, DISCLOSURE, NOW)
    with pytest.raises(PermissionDenied) as refused:
        app.refer(case_id, own_manager, D1)
    assert refused.value.rule == "self_review"


# --- the two-year rule at decision ----------------------------------------------------------


def test_no_conflict_on_a_prohibited_relationship_is_refused(app: App) -> None:
    case_id = to_decision(app)
    error = refused_without_change(
        app, case_id, lambda: app.decide(case_id, DIRECTOR, "no_conflict", [], D1)
    )
    assert isinstance(error, RuleViolation) and error.rule == "two_year_rule"


def test_no_conflict_cannot_be_recommended_on_a_prohibited_relationship(app: App) -> None:
    case_id = referred(app)
    with pytest.raises(RuleViolation) as refused:
        app.recommend(case_id, DEPUTY, "no_conflict", "why", D1)
    assert refused.value.rule == "two_year_rule"


def test_an_exception_needs_conditions(app: App) -> None:
    case_id = to_decision(app)
    with pytest.raises(InvalidInput, match="needs at least one condition"):
        app.decide(case_id, DIRECTOR, "exception_with_conditions", [], D1)


def test_a_blank_condition_is_refused_without_echoing_the_others(app: App) -> None:
    case_id = to_decision(app)
    with pytest.raises(InvalidInput) as refused:
        app.decide(case_id, DIRECTOR, "exception_with_conditions", ["keep apart", " "], D1)
    assert "condition(s) [1] are blank" in refused.value.detail
    assert "keep apart" not in refused.value.detail


def test_an_unknown_outcome_is_refused_listing_the_known_ones(app: App) -> None:
    case_id = to_decision(app)
    with pytest.raises(InvalidInput, match="unknown outcome 'warning'.*no_conflict"):
        app.decide(case_id, DIRECTOR, "warning", [], D1)


def test_blank_guidance_is_refused(app: App) -> None:
    case_id = referred(app)
    with pytest.raises(InvalidInput, match="guidance must not be blank"):
        app.record_guidance(case_id, COUNSEL, "  ", D1)


def test_a_waiver_needs_a_reason(app: App) -> None:
    case_id = referred(app)
    with pytest.raises(InvalidInput, match="reason for waiving guidance must not be blank"):
        app.waive_guidance(case_id, DIRECTOR, "", D1)


def test_a_recommendation_needs_a_rationale(app: App) -> None:
    case_id = referred(app)
    with pytest.raises(InvalidInput, match="rationale must not be blank"):
        app.recommend(case_id, DEPUTY, "reassign", " ", D1)


def test_a_financial_relationship_may_be_decided_no_conflict(app: App) -> None:
    case_id = to_decision(app, replace(DISCLOSURE, kind="financial"))
    app.decide(case_id, DIRECTOR, "no_conflict", [], D1)
    assert app.get(case_id).current_step == "close"
