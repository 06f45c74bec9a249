"""Who holds a role and who grants one (`domain.staff.authority`), staff ids as
providers issue them (`domain.staff.ids`), and the staff application's commands for
them, in memory."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import AlreadyExists, InvalidInput, PermissionDenied, RuleViolation
from domain.staff import authority
from domain.staff.aggregate import ROLES, staff_uuid
from domain.staff.ids import canonical_staff_id
from ops.bootstrap import System

TODAY = date(2026, 6, 1)


def hire(system: System, staff_id: str, *roles: str, title: str = "clinician") -> None:
    system.staff.hire(staff_id, staff_id, title, list(roles), date(2024, 1, 8))


def test_every_role_has_its_grantors_and_only_the_director_grants_director() -> None:
    assert set(authority.GRANTED_BY) == ROLES
    assert {r for r, by in authority.GRANTED_BY.items() if by == {"director"}} == {
        "director", "clinical_deputy", "county_counsel", "privacy_officer", "auditor"}
    assert authority.grantable_by(["director"]) == ROLES
    assert authority.grantable_by(["hr"]) == {"hr", "manager", "clinician", "peer_staff"}
    for role in ROLES - {"director", "hr"}:
        assert authority.grantable_by([role]) == frozenset(), role


def test_no_one_grants_a_role_more_powerful_than_their_own() -> None:
    with pytest.raises(PermissionDenied, match="privacy_officer") as refused:
        authority.check_grant(["hr"], ["clinician", "privacy_officer"])
    assert refused.value.rule == "role_grant"
    assert "privacy_officer is granted by director" in refused.value.detail
    authority.check_grant(["hr"], ["clinician", "hr"])
    authority.check_grant(["director"], ["director"])


def test_a_role_change_needs_authority_over_what_is_added_and_removed() -> None:
    authority.check_role_change("HR-1", ["hr"], "C-1", ["clinician"], ["clinician", "manager"])
    with pytest.raises(PermissionDenied, match=r"\['auditor'\]"):
        authority.check_role_change("HR-1", ["hr"], "A-1", ["auditor"], ["clinician"])
    with pytest.raises(PermissionDenied) as own:
        authority.check_role_change("D-1", ["director"], "D-1", ["director"], ["director", "hr"])
    assert own.value.rule == "own_roles"


class Member:
    def __init__(self, roles: list[str], hired_on: date = date(2024, 1, 8),
                 separated_on: date | None = None) -> None:
        self.staff_id, self.roles = "S-1", roles
        self.hired_on, self.separated_on = hired_on, separated_on


def test_effective_roles_are_the_claimed_roles_the_record_holds() -> None:
    member = Member(["clinician", "manager"])
    assert authority.effective_roles("S-1", ["clinician", "director"], member, TODAY) == {
        "clinician"}
    assert authority.effective_roles("S-1", [], member, TODAY) == frozenset()


@pytest.mark.parametrize(("member", "rule"), [
    (None, "not_staff"),
    (Member(["director"], hired_on=date(2026, 6, 2)), "not_staff"),  # hired from tomorrow
    (Member(["director"], separated_on=TODAY), "separated"),  # separated today
    (Member(["director"], separated_on=date(2025, 1, 1)), "separated"),
])
def test_no_one_off_staff_holds_any_role(member: Member | None, rule: str) -> None:
    with pytest.raises(PermissionDenied) as refused:
        authority.effective_roles("S-1", ["director"], member, TODAY)
    assert refused.value.rule == rule


@pytest.mark.parametrize("staff_id", [
    "C-001", "alice.ng@agency.example", "auth0|5f3c9a1b2c", "google-oauth2|1093",
    "3f2b8c1e-0d4a-4c6b-9a7e-5b1d2c3e4f50", "00u1ab2CD3ef", "o'neil+intake@agency.example",
    "samlp:agency|jdoe", "a" * 255,
])
def test_staff_ids_in_the_forms_providers_issue(staff_id: str) -> None:
    assert canonical_staff_id(staff_id) == (staff_id.lower() if "@" in staff_id else staff_id)


@pytest.mark.parametrize("staff_id", [
    "", " C-1", "C 1", "a/b", "a\\b", "50%", "a?b", "a#b", "a\nb", "C-1\n", "é@agency.example",
    "-leading-dash", "a" * 256, "a\x00b", "<script>",
])
def test_ids_unsafe_in_a_path_a_log_or_sql_are_refused_without_echo(staff_id: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        canonical_staff_id(staff_id)
    assert staff_id not in refused.value.detail or staff_id == ""


def test_emails_are_one_member_in_any_case(memory_system: System) -> None:
    memory_system.staff.hire("Alice.Ng@Agency.Example", "A. Ng", "clinician", ["clinician"],
                             date(2024, 1, 8))
    assert staff_uuid("ALICE.NG@agency.example") == staff_uuid("alice.ng@agency.example")
    member = memory_system.staff.get("alice.ng@AGENCY.example")
    assert member.staff_id == "alice.ng@agency.example"
    with pytest.raises(AlreadyExists):
        hire(memory_system, "alice.ng@agency.example", "clinician")
    assert memory_system.staff.current("ALICE.NG@AGENCY.EXAMPLE") is not None
    assert memory_system.staff.current("nobody@agency.example") is None


def test_hiring_grants_only_what_the_hirer_may(memory_system: System) -> None:
    before = memory_system.staff.position()
    with pytest.raises(PermissionDenied) as refused:
        memory_system.staff.hire("PO-1", "PO", "privacy_officer", ["privacy_officer"],
                                 date(2024, 1, 8), granted_by=["hr"])
    assert refused.value.rule == "role_grant"
    assert memory_system.staff.position() == before
    memory_system.staff.hire("PO-1", "PO", "privacy_officer", ["privacy_officer"],
                             date(2024, 1, 8), granted_by=["director"])


def test_role_changes_by_an_actor(memory_system: System) -> None:
    hire(memory_system, "D-1", "director", title="director")
    hire(memory_system, "C-1", "clinician")
    memory_system.staff.assign_roles("C-1", ["clinician", "manager"], "HR-1", ["hr"])
    assert memory_system.staff.get("C-1").roles == ["clinician", "manager"]
    with pytest.raises(PermissionDenied, match="director"):
        memory_system.staff.assign_roles("C-1", ["director"], "HR-1", ["hr"])
    with pytest.raises(PermissionDenied, match="their own"):
        memory_system.staff.assign_roles("D-1", ["director", "hr"], "D-1", ["director"])


def test_the_last_director_cannot_leave_the_directors_office_empty(memory_system: System) -> None:
    hire(memory_system, "D-1", "director", title="director")
    with pytest.raises(RuleViolation) as refused:
        memory_system.staff.assign_roles("D-1", ["hr"])
    assert refused.value.rule == "last_director"
    with pytest.raises(RuleViolation, match="last staff member holding director"):
        memory_system.staff.separate("D-1", date(2026, 1, 5), "retired", today=TODAY)
    hire(memory_system, "D-2", "director", title="director")
    memory_system.staff.separate("D-1", date(2026, 1, 5), "retired", today=TODAY)
    assert memory_system.staff.get("D-1").separated_on == date(2026, 1, 5)


def test_a_separation_is_never_recorded_ahead_of_its_day(memory_system: System) -> None:
    hire(memory_system, "C-1", "clinician")
    with pytest.raises(InvalidInput, match="after today"):
        memory_system.staff.separate("C-1", date(2026, 6, 2), "moving", today=TODAY)
    with pytest.raises(InvalidInput, match="reason must not be blank"):
        memory_system.staff.separate("C-1", TODAY, " ", today=TODAY)
    memory_system.staff.separate("C-1", TODAY, "moving", today=TODAY)
    assert memory_system.staff.roster().supervisors.get("C-1", "gone") == "gone"


def test_bootstrap_hires_the_first_staff_member_only(memory_system: System) -> None:
    memory_system.staff.bootstrap("D-1", "Director", "director", ["director", "hr"], TODAY)
    assert memory_system.staff.get("D-1").roles == ["director", "hr"]
    with pytest.raises(AlreadyExists, match="bootstrap only creates the first one"):
        memory_system.staff.bootstrap("D-2", "Director", "director", ["director"], TODAY)
