"""The policy decision point: every rule allowing and refusing, and their order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.access.policy import (
    SEQUESTRATION_EXPLANATION,
    AccessFacts,
    BreakGlassFact,
    Decision,
    GrantFact,
    GroupSpan,
    Principal,
    Target,
    check_purpose,
    decide,
)
from domain.errors import InvalidInput

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
PRINCIPAL = Principal("rss-007", frozenset({"peer_staff"}))
TREAT = Target("SQ-7F3K-Q9XM", "TREAT")
LIVE_GRANT = GrantFact("g-live", "read", "TREAT", NOW + timedelta(days=30))
LIVE_WRITE_GRANT = GrantFact("g-write", "write", "TREAT", NOW + timedelta(days=30))
LIVE_BREAK_GLASS = BreakGlassFact(
    "bg-1", "ETREAT", NOW - timedelta(hours=1), NOW + timedelta(hours=3)
)


def facts(**changes: object) -> AccessFacts:
    """A principal with an agreement, no link to the subject, and one live read grant."""
    base = AccessFacts(
        principal_link="h-principal",
        subject_link="h-subject",
        has_current_agreement=True,
        grants=(LIVE_GRANT,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def decide_now(
    f: AccessFacts, action: str = "read", target: Target = TREAT, now: datetime = NOW
) -> Decision:
    return decide(PRINCIPAL, action, target, f, now)


# --- grant ---------------------------------------------------------------------------


def test_live_matching_grant_allows_and_names_it() -> None:
    d = decide_now(facts())
    assert (d.allowed, d.rule, d.grant_id, d.break_glass) == (True, "grant", "g-live", False)


def test_no_grant_denies_by_default() -> None:
    d = decide_now(facts(grants=()))
    assert (d.allowed, d.rule, d.grant_id) == (False, "no_grant", None)


def test_read_grant_does_not_cover_write() -> None:
    assert decide_now(facts(), action="write").rule == "no_grant"


def test_write_grant_covers_write() -> None:
    d = decide_now(facts(grants=(LIVE_WRITE_GRANT,)), action="write")
    assert (d.allowed, d.grant_id) == (True, "g-write")


def test_write_grant_implies_read() -> None:
    d = decide_now(facts(grants=(LIVE_WRITE_GRANT,)), action="read")
    assert (d.allowed, d.grant_id) == (True, "g-write")


def test_grant_for_another_purpose_does_not_allow() -> None:
    d = decide_now(facts(), target=Target("SQ-7F3K-Q9XM", "HPAYMT"))
    assert (d.allowed, d.rule) == (False, "no_grant")


def test_grant_is_live_just_before_expiry() -> None:
    at = LIVE_GRANT.expires_at - timedelta(microseconds=1)
    assert decide_now(facts(), now=at).allowed


def test_grant_at_exactly_its_expiry_is_expired() -> None:
    d = decide_now(facts(), now=LIVE_GRANT.expires_at)
    assert (d.allowed, d.rule, d.grant_id) == (False, "grant_expired", "g-live")


def test_revoked_grant_denies_and_names_it() -> None:
    revoked = replace(LIVE_GRANT, revoked_at=NOW - timedelta(days=1))
    d = decide_now(facts(grants=(revoked,)))
    assert (d.allowed, d.rule, d.grant_id) == (False, "grant_revoked", "g-live")


def test_revoked_grant_never_allows_even_if_revocation_is_later_than_now() -> None:
    revoked = replace(LIVE_GRANT, revoked_at=NOW + timedelta(days=1))
    assert decide_now(facts(grants=(revoked,))).rule == "grant_revoked"


def test_a_live_grant_wins_over_dead_ones() -> None:
    dead = replace(LIVE_GRANT, grant_id="g-old", revoked_at=NOW - timedelta(days=2))
    d = decide_now(facts(grants=(dead, LIVE_GRANT)))
    assert (d.allowed, d.grant_id) == (True, "g-live")


def test_most_recently_ended_grant_names_the_denial() -> None:
    expired = replace(LIVE_GRANT, grant_id="g-exp", expires_at=NOW - timedelta(days=1))
    revoked = replace(LIVE_GRANT, grant_id="g-rev", revoked_at=NOW - timedelta(days=5))
    d = decide_now(facts(grants=(revoked, expired)))
    assert (d.rule, d.grant_id) == ("grant_expired", "g-exp")


# --- break-glass ---------------------------------------------------------------------


def test_live_break_glass_allows_emergency_access_flagged() -> None:
    d = decide_now(
        facts(grants=(), break_glass=(LIVE_BREAK_GLASS,)), target=Target("SQ-1", "ETREAT")
    )
    assert (d.allowed, d.rule, d.break_glass, d.break_glass_id) == (
        True,
        "break_glass",
        True,
        "bg-1",
    )


def test_break_glass_covers_write() -> None:
    target = Target("SQ-1", "BTG")
    assert decide_now(facts(grants=(), break_glass=(LIVE_BREAK_GLASS,)), "write", target).allowed


def test_break_glass_at_exactly_its_expiry_does_not_allow() -> None:
    f = facts(grants=(), break_glass=(LIVE_BREAK_GLASS,))
    d = decide_now(f, target=Target("SQ-1", "ETREAT"), now=LIVE_BREAK_GLASS.expires_at)
    assert (d.allowed, d.rule) == (False, "no_grant")


def test_break_glass_does_not_cover_non_emergency_purpose() -> None:
    d = decide_now(facts(grants=(), break_glass=(LIVE_BREAK_GLASS,)))
    assert (d.allowed, d.rule) == (False, "no_grant")


def test_live_grant_is_preferred_to_break_glass() -> None:
    grant = GrantFact("g-e", "read", "ETREAT", NOW + timedelta(days=1))
    f = facts(grants=(grant,), break_glass=(LIVE_BREAK_GLASS,))
    d = decide_now(f, target=Target("SQ-1", "ETREAT"))
    assert (d.rule, d.break_glass) == ("grant", False)


# --- deny rules ----------------------------------------------------------------------


def test_self_access_denies_despite_live_grant() -> None:
    d = decide_now(facts(subject_link="h-principal"))
    assert (d.allowed, d.rule) == (False, "self_access")


def test_different_links_do_not_trigger_self_access() -> None:
    assert decide_now(facts(subject_link="h-other")).allowed


def test_unlinked_subject_does_not_trigger_self_access() -> None:
    assert decide_now(facts(subject_link=None)).allowed


def test_missing_agreement_denies_despite_live_grant() -> None:
    d = decide_now(facts(has_current_agreement=False))
    assert (d.allowed, d.rule) == (False, "no_confidentiality_agreement")


def co_member_facts(mine: GroupSpan, theirs: GroupSpan) -> AccessFacts:
    return facts(principal_client_groups=(mine,), subject_groups=(theirs,))


def test_current_group_co_member_is_denied() -> None:
    f = co_member_facts(GroupSpan("g1", date(2025, 1, 1)), GroupSpan("g1", date(2024, 6, 1)))
    d = decide_now(f)
    assert (d.allowed, d.rule) == (False, "group_co_member")


def test_co_member_denied_when_subject_left_during_overlap() -> None:
    theirs = GroupSpan("g1", date(2024, 6, 1), date(2025, 1, 15))
    assert decide_now(co_member_facts(GroupSpan("g1", date(2025, 1, 1)), theirs)).rule == (
        "group_co_member"
    )


def test_principal_who_left_the_group_is_not_denied() -> None:
    mine = GroupSpan("g1", date(2024, 1, 1), TODAY - timedelta(days=1))
    assert decide_now(co_member_facts(mine, GroupSpan("g1", date(2024, 1, 1)))).allowed


def test_principal_in_group_on_its_last_day_is_still_denied() -> None:
    mine = GroupSpan("g1", date(2024, 1, 1), TODAY)
    assert not decide_now(co_member_facts(mine, GroupSpan("g1", date(2024, 1, 1)))).allowed


def test_same_group_without_overlap_is_not_denied() -> None:
    theirs = GroupSpan("g1", date(2023, 1, 1), date(2023, 12, 31))
    assert decide_now(co_member_facts(GroupSpan("g1", date(2024, 1, 1)), theirs)).allowed


def test_different_groups_are_not_denied() -> None:
    f = co_member_facts(GroupSpan("g1", date(2024, 1, 1)), GroupSpan("g2", date(2024, 1, 1)))
    assert decide_now(f).allowed


def test_supervisor_denied_clinical_access() -> None:
    d = decide_now(facts(supervisee_links=frozenset({"h-subject"})))
    assert (d.allowed, d.rule) == (False, "supervisor_as_clinician")


def test_supervisor_allowed_non_clinical_access_with_grant() -> None:
    grant = GrantFact("g-ops", "read", "HOPERAT", NOW + timedelta(days=1))
    f = facts(supervisee_links=frozenset({"h-subject"}), grants=(grant,))
    assert decide_now(f, target=Target("SQ-1", "HOPERAT")).allowed


def test_supervising_someone_else_does_not_deny() -> None:
    assert decide_now(facts(supervisee_links=frozenset({"h-other"}))).allowed


# --- order ---------------------------------------------------------------------------


def test_self_access_is_evaluated_before_missing_agreement() -> None:
    d = decide_now(facts(subject_link="h-principal", has_current_agreement=False))
    assert d.rule == "self_access"


def test_missing_agreement_is_evaluated_before_group_co_member() -> None:
    f = co_member_facts(GroupSpan("g1", date(2024, 1, 1)), GroupSpan("g1", date(2024, 1, 1)))
    assert decide_now(replace(f, has_current_agreement=False)).rule == (
        "no_confidentiality_agreement"
    )


def test_group_co_member_is_evaluated_before_supervisor_as_clinician() -> None:
    f = co_member_facts(GroupSpan("g1", date(2024, 1, 1)), GroupSpan("g1", date(2024, 1, 1)))
    f = replace(f, supervisee_links=frozenset({"h-subject"}))
    assert decide_now(f).rule == "group_co_member"


@pytest.mark.parametrize(
    "changes",
    [
        {"subject_link": "h-principal"},
        {"has_current_agreement": False},
        {
            "principal_client_groups": (GroupSpan("g1", date(2024, 1, 1)),),
            "subject_groups": (GroupSpan("g1", date(2024, 1, 1)),),
        },
        {"supervisee_links": frozenset({"h-subject"})},
    ],
    ids=["self", "agreement", "co_member", "supervisor"],
)
def test_break_glass_never_overrides_a_deny_rule(changes: dict[str, object]) -> None:
    f = replace(facts(break_glass=(LIVE_BREAK_GLASS,)), **changes)  # type: ignore[arg-type]
    d = decide_now(f, target=Target("SQ-1", "ETREAT"))
    assert (d.allowed, d.break_glass) == (False, False)


# --- what non-directors see ----------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"subject_link": "h-principal"},
        {
            "principal_client_groups": (GroupSpan("g1", date(2024, 1, 1)),),
            "subject_groups": (GroupSpan("g1", date(2024, 1, 1)),),
        },
        {"supervisee_links": frozenset({"h-subject"})},
    ],
    ids=["self", "co_member", "supervisor"],
)
def test_public_view_of_a_sequestration_denial_is_generic(changes: dict[str, object]) -> None:
    public = decide_now(replace(facts(), **changes)).public()  # type: ignore[arg-type]
    assert public == Decision(False, "sequestration", SEQUESTRATION_EXPLANATION)


def test_public_view_of_other_rules_is_unchanged() -> None:
    d = decide_now(facts(has_current_agreement=False))
    assert d.public() == d


def test_director_sees_the_deciding_rule() -> None:
    d = decide_now(facts(subject_link="h-principal"))
    assert d.view_for(frozenset({"director"})).rule == "self_access"


def test_non_director_sees_the_generic_rule() -> None:
    d = decide_now(facts(subject_link="h-principal"))
    assert d.view_for(frozenset({"privacy_officer", "auditor"})).rule == "sequestration"


def test_explanations_contain_no_staff_id_or_link_hash() -> None:
    d = decide_now(facts(subject_link="h-principal"))
    assert "rss-007" not in d.explanation and "h-principal" not in d.explanation


# --- input ---------------------------------------------------------------------------


def test_unknown_purpose_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="purpose of use 'FUN'"):
        check_purpose("FUN")


def test_known_purpose_passes() -> None:
    assert check_purpose("HLEGAL") == "HLEGAL"


def test_unknown_action_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="action 'delete'"):
        decide_now(facts(), action="delete")


def test_decide_rejects_unknown_purpose() -> None:
    with pytest.raises(InvalidInput):
        decide_now(facts(), target=Target("SQ-1", "FUN"))


def test_naive_time_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        decide_now(facts(), now=datetime(2025, 3, 10, 12, 0))
