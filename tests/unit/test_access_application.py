"""AccessApplication in memory: role checks, persistence, facts for the decision point."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.access import (
    AccessApplication,
    AccessFacts,
    Decision,
    Principal,
    Target,
    decide,
)
from domain.errors import (
    InvalidInput,
    LinkRefusal,
    NotFound,
    OutOfRange,
    PermissionDenied,
    RuleViolation,
)
from ops.bootstrap import System

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SUBJECT = UUID("00000000-0000-4000-8000-000000000001")
CHART = "SQ-7F3K-Q9XM"
PO = frozenset({"privacy_officer"})
CLINICIAN = frozenset({"clinician"})
DIRECTOR = frozenset({"director"})


@pytest.fixture
def app(memory_system: System) -> AccessApplication:
    return AccessApplication(memory_system.infrastructure)


def grant(app: AccessApplication, **changes: object) -> tuple[UUID, int]:
    args: dict[str, object] = {
        "grantee": "clin-1",
        "pseudonym": CHART,
        "subject_id": SUBJECT,
        "scope": "write",
        "purpose": "TREAT",
        "expires_at": NOW + timedelta(days=30),
        "justification": "assigned treating clinician",
        "granted_by": "po-1",
        "now": NOW,
        "actor_roles": PO,
    }
    confirm = changes.pop("confirm", True)
    args.update(changes)
    gid, position = app.grant(**args)  # type: ignore[arg-type]
    if confirm:
        position = app.confirm(gid, "d-1", NOW, None, actor_roles=DIRECTOR)
    return gid, position


def break_glass(app: AccessApplication, **changes: object) -> tuple[UUID, int]:
    args: dict[str, object] = {
        "clinician": "clin-1",
        "pseudonym": CHART,
        "subject_id": SUBJECT,
        "purpose": "ETREAT",
        "reason": "crisis call after hours",
        "now": NOW,
        "actor_roles": CLINICIAN,
    }
    args.update(changes)
    return app.invoke_break_glass(**args)  # type: ignore[arg-type]


def decide_for(app: AccessApplication, purpose: str, now: datetime, **facts: object) -> str:
    grants, uses = app.facts_for("clin-1", CHART)
    base = AccessFacts(True, grants=grants, break_glass=uses)
    base = replace(base, **facts)  # type: ignore[arg-type]
    principal = Principal("clin-1", CLINICIAN)
    return decide(principal, "read", Target(CHART, purpose), base, now).rule


def test_grant_is_stored_and_readable(app: AccessApplication) -> None:
    gid, position = grant(app)
    stored = app.get_grant(gid)
    assert (stored.grantee, stored.scope, stored.granted_by, position > 0) == (
        "clin-1",
        "write",
        "po-1",
        True,
    )


def test_grant_requires_privacy_officer(app: AccessApplication) -> None:
    with pytest.raises(PermissionDenied) as caught:
        grant(app, actor_roles=frozenset({"director", "clinician"}))
    assert caught.value.rule == "privacy_officer_only"


def test_refused_grant_stores_nothing(app: AccessApplication) -> None:
    before = app.position()
    with pytest.raises(InvalidInput):
        grant(app, justification="")
    assert app.position() == before and app.facts_for("clin-1", CHART) == ((), ())


def test_grant_allows_access_through_facts(app: AccessApplication) -> None:
    grant(app)
    assert decide_for(app, "TREAT", NOW + timedelta(hours=1)) == "grant"


def test_a_grant_waits_for_the_directors_office(app: AccessApplication) -> None:
    gid, _ = grant(app, confirm=False)
    assert decide_for(app, "TREAT", NOW) == "grant_unconfirmed"
    app.confirm(gid, "d-1", NOW, None, actor_roles=DIRECTOR)
    assert decide_for(app, "TREAT", NOW) == "grant"


def test_only_the_directors_office_confirms_or_declines(app: AccessApplication) -> None:
    gid, _ = grant(app, confirm=False)
    for act in (lambda: app.confirm(gid, "po-1", NOW, None, actor_roles=PO),
                lambda: app.decline(gid, "po-1", "", NOW, actor_roles=PO)):
        with pytest.raises(PermissionDenied) as caught:
            act()
        assert caught.value.rule == "director_only"
    assert app.get_grant(gid).status(NOW) == "pending"


def test_confirmation_is_refused_while_a_link_rule_forbids_it(app: AccessApplication) -> None:
    gid, _ = grant(app, confirm=False)
    with pytest.raises(LinkRefusal) as caught:
        app.confirm(gid, "d-1", NOW, Decision(False, "self_access", "x"), actor_roles=DIRECTOR)
    assert (caught.value.rule, caught.value.public_rule) == ("self_access", "sequestration")
    assert app.get_grant(gid).status(NOW) == "pending"


def test_a_decline_is_final_and_ends_a_confirmed_grant(app: AccessApplication) -> None:
    gid, _ = grant(app)
    app.decline(gid, "d-1", "linked", NOW + timedelta(hours=1), actor_roles=DIRECTOR)
    assert decide_for(app, "TREAT", NOW + timedelta(hours=1)) == "grant_declined"
    with pytest.raises(RuleViolation, match="declined"):
        app.confirm(gid, "d-1", NOW + timedelta(hours=2), None, actor_roles=DIRECTOR)


def test_a_grant_cannot_run_longer_than_a_year(app: AccessApplication) -> None:
    with pytest.raises(OutOfRange, match="at most 366 days"):
        grant(app, expires_at=NOW + timedelta(days=367), confirm=False)
    assert app.facts_for("clin-1", CHART) == ((), ())


def test_revoke_takes_effect_immediately(app: AccessApplication) -> None:
    gid, _ = grant(app)
    app.revoke(gid, "po-1", "left the team", NOW + timedelta(hours=1), actor_roles=PO)
    assert decide_for(app, "TREAT", NOW + timedelta(hours=1)) == "grant_revoked"


def test_revoke_requires_privacy_officer(app: AccessApplication) -> None:
    gid, _ = grant(app)
    with pytest.raises(PermissionDenied):
        app.revoke(gid, "clin-1", "mine", NOW, actor_roles=CLINICIAN)
    assert app.get_grant(gid).revoked_at is None


def test_double_revoke_is_refused(app: AccessApplication) -> None:
    gid, _ = grant(app)
    app.revoke(gid, "po-1", "left the team", NOW, actor_roles=PO)
    with pytest.raises(RuleViolation):
        app.revoke(gid, "po-1", "again", NOW, actor_roles=PO)


def test_unknown_grant_is_not_found(app: AccessApplication) -> None:
    with pytest.raises(NotFound, match="grant .* does not exist"):
        app.get_grant(uuid4())


def test_facts_list_every_grant_of_the_staff_member_on_the_chart(app: AccessApplication) -> None:
    first, _ = grant(app)
    second, _ = grant(app, purpose="HOPERAT", scope="read")
    grant(app, pseudonym="SQ-OTHER-0001")
    grants, _ = app.facts_for("clin-1", CHART)
    assert [g.grant_id for g in grants] == [str(first), str(second)]


def test_grant_for_a_chart_under_another_subject_id_is_refused(app: AccessApplication) -> None:
    grant(app)
    with pytest.raises(RuleViolation) as caught:
        grant(app, subject_id=uuid4())
    assert caught.value.rule == "pseudonym_subject_mismatch"


def test_break_glass_is_time_limited_by_the_setting(memory_system: System) -> None:
    app = AccessApplication(memory_system.infrastructure, break_glass_minutes=30)
    bid, _ = break_glass(app)
    assert app.get_break_glass(bid).expires_at == NOW + timedelta(minutes=30)


def test_default_break_glass_limit_is_four_hours(app: AccessApplication) -> None:
    bid, _ = break_glass(app)
    assert app.get_break_glass(bid).expires_at == NOW + timedelta(hours=4)


@pytest.mark.parametrize("minutes", [0, 24 * 60 + 1])
def test_break_glass_limit_setting_is_bounded(memory_system: System, minutes: int) -> None:
    with pytest.raises(InvalidInput, match="break-glass time limit"):
        AccessApplication(memory_system.infrastructure, break_glass_minutes=minutes)


def test_break_glass_by_a_clinician(app: AccessApplication) -> None:
    bid, _ = break_glass(app, actor_roles=CLINICIAN)
    assert app.get_break_glass(bid).flagged


@pytest.mark.parametrize("roles", [{"peer_staff"}, {"privacy_officer", "director"}])
def test_break_glass_refused_to_other_roles(app: AccessApplication, roles: set[str]) -> None:
    with pytest.raises(PermissionDenied) as caught:
        break_glass(app, actor_roles=frozenset(roles))
    assert caught.value.rule == "clinician_only"


def test_break_glass_allows_emergency_access_through_facts(app: AccessApplication) -> None:
    break_glass(app)
    assert decide_for(app, "ETREAT", NOW + timedelta(hours=1)) == "break_glass"


def test_an_inappropriate_use_ends_it_and_blocks_the_clinician(app: AccessApplication) -> None:
    bid, _ = break_glass(app)
    later = NOW + timedelta(minutes=10)
    app.review_break_glass(bid, "po-1", "inappropriate", "no emergency", later, actor_roles=PO)
    assert decide_for(app, "ETREAT", later) == "no_grant"
    assert decide_for(app, "ETREAT", later - timedelta(minutes=1)) == "break_glass"
    assert app.is_blocked("clin-1") and not app.is_blocked("clin-2")


def test_the_privacy_officer_lifts_a_block(app: AccessApplication) -> None:
    bid, _ = break_glass(app)
    app.review_break_glass(bid, "po-1", "inappropriate", "no emergency", NOW, actor_roles=PO)
    with pytest.raises(RuleViolation, match="its own block"):
        app.lift_block("clin-1", "clin-1", "mine", NOW, actor_roles=PO)
    with pytest.raises(PermissionDenied):
        app.lift_block("clin-1", "d-1", "retrained", NOW, actor_roles=DIRECTOR)
    app.lift_block("clin-1", "po-1", "retrained", NOW, actor_roles=PO)
    assert not app.is_blocked("clin-1")
    with pytest.raises(RuleViolation, match="not blocked"):
        app.lift_block("clin-1", "po-1", "again", NOW, actor_roles=PO)


def test_an_appropriate_use_blocks_nothing(app: AccessApplication) -> None:
    bid, _ = break_glass(app)
    app.review_break_glass(bid, "po-1", "appropriate", "", NOW, actor_roles=PO)
    assert not app.is_blocked("clin-1")


def test_review_is_stored(app: AccessApplication) -> None:
    bid, _ = break_glass(app)
    app.review_break_glass(bid, "po-1", "appropriate", "", NOW, actor_roles=PO)
    assert app.get_break_glass(bid).review_outcome == "appropriate"


def test_review_requires_privacy_officer(app: AccessApplication) -> None:
    bid, _ = break_glass(app)
    with pytest.raises(PermissionDenied):
        app.review_break_glass(bid, "clin-2", "appropriate", "", NOW, actor_roles=CLINICIAN)
    assert not app.get_break_glass(bid).reviewed


def test_unknown_break_glass_is_not_found(app: AccessApplication) -> None:
    with pytest.raises(NotFound, match="break-glass"):
        app.get_break_glass(uuid4())


def test_facts_for_a_stranger_are_empty(app: AccessApplication) -> None:
    grant(app)
    assert app.facts_for("someone-else", CHART) == ((), ())


def test_an_id_of_another_kind_is_not_a_grant(memory_system) -> None:  # type: ignore[no-untyped-def]

    import pytest

    from domain.access.application import AccessApplication
    from domain.errors import NotFound
    from domain.staff.aggregate import staff_uuid

    memory_system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    access = AccessApplication(memory_system.infrastructure)
    with pytest.raises(NotFound, match="does not exist"):
        access.get_grant(staff_uuid("S-1"))
    with pytest.raises(NotFound, match="does not exist"):
        access.get_break_glass(staff_uuid("S-1"))
