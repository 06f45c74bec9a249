"""The policy decision point: every rule allowing and refusing, and their order; the
link rules (for the Director's office and break-glass) apart from read decisions."""

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
    LinkFacts,
    Principal,
    Target,
    check_purpose,
    decide,
    decide_break_glass,
    link_denial,
    public_rule,
)
from domain.errors import InvalidInput

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
PRINCIPAL = Principal("rss-007", frozenset({"peer_staff"}))
TREAT = Target("SQ-7F3K-Q9XM", "TREAT")
CONFIRMED = NOW - timedelta(days=1)
LIVE_GRANT = GrantFact("g-live", "read", "TREAT", NOW + timedelta(days=30), confirmed_at=CONFIRMED)
LIVE_WRITE_GRANT = GrantFact("g-write", "write", "TREAT", NOW + timedelta(days=30),
                             confirmed_at=CONFIRMED)
LIVE_BREAK_GLASS = BreakGlassFact(
    "bg-1", "ETREAT", NOW - timedelta(hours=1), NOW + timedelta(hours=3)
)


def facts(**changes: object) -> AccessFacts:
    """A principal with an agreement and one live (confirmed) read grant."""
    base = AccessFacts(has_current_agreement=True, grants=(LIVE_GRANT,))
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


def test_a_grant_counts_only_once_the_directors_office_confirms_it() -> None:
    pending = replace(LIVE_GRANT, confirmed_at=None)
    d = decide_now(facts(grants=(pending,)))
    assert (d.allowed, d.rule, d.grant_id) == (False, "grant_unconfirmed", "g-live")
    assert not decide_now(facts(grants=(replace(LIVE_GRANT, confirmed_at=NOW + timedelta(1)),))).allowed


def test_a_declined_grant_denies_without_a_reason() -> None:
    declined = replace(LIVE_GRANT, declined_at=NOW - timedelta(hours=1))
    d = decide_now(facts(grants=(declined,)))
    assert (d.allowed, d.rule) == (False, "grant_declined")
    assert "reason" not in d.explanation


def test_a_pending_grant_that_expired_reads_as_expired() -> None:
    pending = replace(LIVE_GRANT, confirmed_at=None, expires_at=NOW - timedelta(hours=1))
    assert decide_now(facts(grants=(pending,))).rule == "grant_expired"


def test_grant_status_names_each_state() -> None:
    assert [replace(LIVE_GRANT, **c).status(NOW) for c in (
        {}, {"confirmed_at": None}, {"expires_at": NOW}, {"declined_at": NOW},
        {"revoked_at": NOW},
    )] == ["live", "pending", "expired", "declined", "revoked"]


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
    grant = GrantFact("g-e", "read", "ETREAT", NOW + timedelta(days=1), confirmed_at=CONFIRMED)
    f = facts(grants=(grant,), break_glass=(LIVE_BREAK_GLASS,))
    d = decide_now(f, target=Target("SQ-1", "ETREAT"))
    assert (d.rule, d.break_glass) == ("grant", False)


# --- a read or write decision never looks at a link ----------------------------------


def test_decide_takes_no_link_facts() -> None:
    """The signature is the guarantee: nothing about a link can reach a decision."""
    assert set(AccessFacts.__dataclass_fields__) == {"has_current_agreement", "grants",
                                                     "break_glass"}


def test_missing_agreement_denies_despite_live_grant() -> None:
    d = decide_now(facts(has_current_agreement=False))
    assert (d.allowed, d.rule) == (False, "no_confidentiality_agreement")


def test_missing_agreement_denies_despite_live_break_glass() -> None:
    f = facts(has_current_agreement=False, break_glass=(LIVE_BREAK_GLASS,))
    assert decide_now(f, target=Target("SQ-1", "ETREAT")).rule == "no_confidentiality_agreement"


# --- the link rules (Director's office: confirmation and its review; break-glass) -------


def links(**changes: object) -> LinkFacts:
    base = LinkFacts(principal_link="h-principal", subject_link="h-subject")
    return replace(base, **changes)  # type: ignore[arg-type]


def link_rule(f: LinkFacts, purpose: str = "TREAT") -> str | None:
    denial = link_denial(Target("SQ-1", purpose), f, TODAY)
    return None if denial is None else denial.rule


def test_self_access_forbids() -> None:
    assert link_rule(links(subject_link="h-principal")) == "self_access"


def test_different_links_do_not_trigger_self_access() -> None:
    assert link_rule(links(subject_link="h-other")) is None


def test_unlinked_subject_does_not_trigger_self_access() -> None:
    assert link_rule(links(subject_link=None)) is None


def co_member(mine: GroupSpan, theirs: GroupSpan) -> LinkFacts:
    return links(principal_client_groups=(mine,), subject_groups=(theirs,))


def test_current_group_co_member_is_forbidden() -> None:
    f = co_member(GroupSpan("g1", date(2025, 1, 1)), GroupSpan("g1", date(2024, 6, 1)))
    assert link_rule(f) == "group_co_member"


def test_co_member_forbidden_when_subject_left_during_overlap() -> None:
    theirs = GroupSpan("g1", date(2024, 6, 1), date(2025, 1, 15))
    assert link_rule(co_member(GroupSpan("g1", date(2025, 1, 1)), theirs)) == "group_co_member"


def test_principal_who_left_the_group_is_not_forbidden() -> None:
    mine = GroupSpan("g1", date(2024, 1, 1), TODAY - timedelta(days=1))
    assert link_rule(co_member(mine, GroupSpan("g1", date(2024, 1, 1)))) is None


def test_principal_in_group_on_its_last_day_is_still_forbidden() -> None:
    mine = GroupSpan("g1", date(2024, 1, 1), TODAY)
    assert link_rule(co_member(mine, GroupSpan("g1", date(2024, 1, 1)))) == "group_co_member"


def test_same_group_without_overlap_is_not_forbidden() -> None:
    theirs = GroupSpan("g1", date(2023, 1, 1), date(2023, 12, 31))
    assert link_rule(co_member(GroupSpan("g1", date(2024, 1, 1)), theirs)) is None


def test_different_groups_are_not_forbidden() -> None:
    f = co_member(GroupSpan("g1", date(2024, 1, 1)), GroupSpan("g2", date(2024, 1, 1)))
    assert link_rule(f) is None


def test_supervisor_forbidden_clinical_access() -> None:
    assert link_rule(links(supervisee_links=frozenset({"h-subject"}))) == "supervisor_as_clinician"


def test_supervisor_allowed_non_clinical_access() -> None:
    assert link_rule(links(supervisee_links=frozenset({"h-subject"})), "HOPERAT") is None


def test_supervising_someone_else_does_not_forbid() -> None:
    assert link_rule(links(supervisee_links=frozenset({"h-other"}))) is None


def test_link_rules_are_evaluated_in_order() -> None:
    f = co_member(GroupSpan("g1", date(2024, 1, 1)), GroupSpan("g1", date(2024, 1, 1)))
    assert link_rule(replace(f, supervisee_links=frozenset({"h-subject"}))) == "group_co_member"
    assert link_rule(replace(f, subject_link="h-principal")) == "self_access"


# --- break-glass ---------------------------------------------------------------------


def glass(f: AccessFacts | None = None, lf: LinkFacts | None = None, *, charts: bool = True,
          blocked: bool = False, purpose: str = "ETREAT") -> Decision:
    return decide_break_glass(Target("SQ-1", purpose), f or facts(grants=()), lf or links(),
                              charts=charts, blocked=blocked, now=NOW)


def test_break_glass_is_allowed_to_a_charting_clinician_with_an_agreement() -> None:
    d = glass()
    assert (d.allowed, d.rule, d.break_glass) == (True, "break_glass", True)


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"lf": links(subject_link="h-principal")}, "self_access"),
        ({"f": facts(has_current_agreement=False)}, "no_confidentiality_agreement"),
        ({"lf": co_member(GroupSpan("g1", date(2024, 1, 1)), GroupSpan("g1", date(2024, 1, 1)))},
         "group_co_member"),
        ({"lf": links(supervisee_links=frozenset({"h-subject"}))}, "supervisor_as_clinician"),
        ({"charts": False}, "not_charting_title"),
        ({"blocked": True}, "break_glass_blocked"),
    ],
    ids=["self", "agreement", "co_member", "supervisor", "title", "blocked"],
)
def test_break_glass_never_passes_a_deny_rule(kwargs: dict[str, object], rule: str) -> None:
    d = glass(**kwargs)  # type: ignore[arg-type]
    assert (d.allowed, d.rule, d.break_glass) == (False, rule, False)


def test_break_glass_needs_an_emergency_purpose() -> None:
    with pytest.raises(InvalidInput, match="not an emergency purpose"):
        glass(purpose="TREAT")


# --- what non-directors see ----------------------------------------------------------


@pytest.mark.parametrize("rule", ["self_access", "group_co_member", "supervisor_as_clinician",
                                  "self_clinician"])
def test_link_rules_read_as_sequestration_outside_the_directors_office(rule: str) -> None:
    assert public_rule(rule) == "sequestration"
    d = Decision(False, rule, "precise")
    assert d.public() == Decision(False, "sequestration", SEQUESTRATION_EXPLANATION)
    assert d.view_for(frozenset({"privacy_officer", "auditor"})).rule == "sequestration"
    assert d.view_for(frozenset({"director"})).rule == rule


def test_public_view_of_other_rules_is_unchanged() -> None:
    d = decide_now(facts(has_current_agreement=False))
    assert d.public() == d and public_rule(d.rule) == d.rule


def test_explanations_contain_no_staff_id_or_link_hash() -> None:
    denial = link_denial(Target("SQ-1", "TREAT"), links(subject_link="h-principal"), TODAY)
    assert denial is not None
    assert "rss-007" not in denial.explanation and "h-principal" not in denial.explanation


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
