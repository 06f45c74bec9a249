"""The Grant and BreakGlass aggregates: validation, revocation, review, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.access.grants import AccessLedger, BreakGlass, Grant, ledger_id
from domain.errors import InvalidInput, RuleViolation

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SUBJECT = UUID("00000000-0000-4000-8000-000000000001")


def issue(**changes: Any) -> Grant:
    args: dict[str, Any] = {
        "grant_id": uuid4(),
        "subject_id": SUBJECT,
        "grantee": "clin-1",
        "pseudonym": "SQ-7F3K-Q9XM",
        "scope": "read",
        "purpose": "TREAT",
        "expires_at": NOW + timedelta(days=30),
        "justification": "assigned treating clinician",
        "granted_by": "po-1",
        "granted_at": NOW,
    }
    args.update(changes)
    return Grant.issue(**args)


def invoke(**changes: Any) -> BreakGlass:
    args: dict[str, Any] = {
        "break_glass_id": uuid4(),
        "subject_id": SUBJECT,
        "clinician": "clin-1",
        "pseudonym": "SQ-7F3K-Q9XM",
        "purpose": "ETREAT",
        "reason": "crisis call after hours",
        "invoked_at": NOW,
        "duration": timedelta(hours=4),
    }
    args.update(changes)
    return BreakGlass.invoke(**args)


def replayed(aggregate: Any) -> Any:
    copy = None
    for e in aggregate.collect_events():
        copy = e.mutate(copy)
    return copy


# --- Grant ---------------------------------------------------------------------------


def test_grant_records_its_terms_under_the_given_id() -> None:
    gid = uuid4()
    g = issue(grant_id=gid)
    assert (g.id, g.grantee, g.scope, g.purpose, g.revoked_at) == (
        gid,
        "clin-1",
        "read",
        "TREAT",
        None,
    )


def test_grant_data_subject_is_the_chart_subject() -> None:
    assert issue().data_subject_id == SUBJECT


def test_grant_times_are_stored_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    g = issue(granted_at=NOW.astimezone(plus_two))
    assert g.granted_at.tzinfo == UTC and g.granted_at == NOW


def test_grant_expiry_must_be_after_grant_time() -> None:
    with pytest.raises(InvalidInput, match="must be after the grant time"):
        issue(expires_at=NOW)


def test_grant_needs_aware_expiry() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        issue(expires_at=datetime(2026, 1, 1))


def test_grant_needs_a_justification() -> None:
    with pytest.raises(InvalidInput, match="justification"):
        issue(justification="  ")


def test_grant_refuses_unknown_scope() -> None:
    with pytest.raises(InvalidInput, match="scope 'admin'"):
        issue(scope="admin")


def test_grant_refuses_unknown_purpose() -> None:
    with pytest.raises(InvalidInput, match="purpose of use"):
        issue(purpose="CURIOSITY")


@pytest.mark.parametrize("purpose", ["ETREAT", "BTG"])
def test_grant_refuses_emergency_purpose(purpose: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        issue(purpose=purpose)
    assert caught.value.rule == "emergency_purpose_not_grantable"


def test_grant_refuses_self_grant() -> None:
    with pytest.raises(RuleViolation) as caught:
        issue(granted_by="clin-1")
    assert caught.value.rule == "self_grant"


def test_revoke_records_who_why_and_when() -> None:
    g = issue()
    g.revoke("po-2", "left the treatment team", NOW + timedelta(days=1))
    assert (g.revoked_by, g.revocation_reason, g.revoked_at) == (
        "po-2",
        "left the treatment team",
        NOW + timedelta(days=1),
    )


def test_revoked_grant_is_not_live() -> None:
    g = issue()
    g.revoke("po-2", "left the team", NOW + timedelta(days=1))
    assert not g.is_live(NOW + timedelta(days=2))


def test_double_revoke_is_refused() -> None:
    g = issue()
    g.revoke("po-2", "left the team", NOW + timedelta(days=1))
    with pytest.raises(RuleViolation) as caught:
        g.revoke("po-2", "again", NOW + timedelta(days=2))
    assert caught.value.rule == "already_revoked"


def test_revoking_an_expired_grant_is_allowed() -> None:
    g = issue()
    g.revoke("po-2", "cleanup", NOW + timedelta(days=60))
    assert g.is_revoked()


def test_revoke_before_grant_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="before it was granted"):
        issue().revoke("po-2", "oops", NOW - timedelta(seconds=1))


def test_revoke_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match="reason"):
        issue().revoke("po-2", "", NOW)


def test_grant_fact_reflects_state() -> None:
    g = issue()
    g.revoke("po-2", "left", NOW)
    fact = g.to_fact()
    assert (fact.grant_id, fact.revoked_at, fact.expires_at) == (str(g.id), NOW, g.expires_at)


def test_grant_replays_to_equal_state() -> None:
    g = issue()
    g.revoke("po-2", "left", NOW + timedelta(hours=1))
    assert vars(replayed(g)) == vars(g)


# --- BreakGlass ----------------------------------------------------------------------


def test_break_glass_is_flagged_and_time_limited() -> None:
    bg = invoke()
    assert (bg.flagged, bg.expires_at, bg.reviewed) == (True, NOW + timedelta(hours=4), False)


def test_break_glass_data_subject_is_the_chart_subject() -> None:
    assert invoke().data_subject_id == SUBJECT


@pytest.mark.parametrize("purpose", ["TREAT", "HPAYMT"])
def test_break_glass_refuses_non_emergency_purpose(purpose: str) -> None:
    with pytest.raises(InvalidInput, match="not an emergency purpose"):
        invoke(purpose=purpose)


def test_break_glass_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match="reason"):
        invoke(reason=" ")


def test_break_glass_needs_a_positive_time_limit() -> None:
    with pytest.raises(InvalidInput, match="time limit"):
        invoke(duration=timedelta(0))


def test_break_glass_is_live_until_its_expiry() -> None:
    bg = invoke()
    assert bg.is_live(bg.expires_at - timedelta(seconds=1)) and not bg.is_live(bg.expires_at)


def test_review_records_outcome() -> None:
    bg = invoke()
    bg.review("po-1", "appropriate", "", NOW + timedelta(days=1))
    assert (bg.reviewed_by, bg.review_outcome, bg.reviewed_at) == (
        "po-1",
        "appropriate",
        NOW + timedelta(days=1),
    )


def test_review_happens_once_only() -> None:
    bg = invoke()
    bg.review("po-1", "appropriate", "", NOW)
    with pytest.raises(RuleViolation) as caught:
        bg.review("po-1", "inappropriate", "changed my mind", NOW)
    assert caught.value.rule == "already_reviewed"


def test_review_refuses_unknown_outcome() -> None:
    with pytest.raises(InvalidInput, match="outcome 'fine'"):
        invoke().review("po-1", "fine", "", NOW)


def test_inappropriate_review_needs_notes() -> None:
    with pytest.raises(InvalidInput, match="notes"):
        invoke().review("po-1", "inappropriate", "", NOW)


def test_clinician_cannot_review_own_break_glass() -> None:
    with pytest.raises(RuleViolation) as caught:
        invoke().review("clin-1", "appropriate", "", NOW)
    assert caught.value.rule == "self_review"


def test_review_before_invocation_is_refused() -> None:
    with pytest.raises(InvalidInput, match="before it was invoked"):
        invoke().review("po-1", "appropriate", "", NOW - timedelta(minutes=1))


def test_break_glass_replays_to_equal_state() -> None:
    bg = invoke()
    bg.review("po-1", "inappropriate", "no emergency recorded", NOW)
    assert vars(replayed(bg)) == vars(bg)


# --- AccessLedger --------------------------------------------------------------------


def test_ledger_id_is_deterministic_per_staff_and_chart() -> None:
    ledger = AccessLedger(staff_id="clin-1", pseudonym="SQ-1", subject_id=SUBJECT)
    assert ledger.id == ledger_id("clin-1", "SQ-1") != ledger_id("clin-1", "SQ-2")


def test_ledger_refuses_another_subject_for_the_same_chart() -> None:
    ledger = AccessLedger(staff_id="clin-1", pseudonym="SQ-1", subject_id=SUBJECT)
    with pytest.raises(RuleViolation) as caught:
        ledger.require_subject(uuid4())
    assert caught.value.rule == "pseudonym_subject_mismatch"
