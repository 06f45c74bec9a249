"""Chart access decided from real staff, subjects and grants (in memory).

Reads are decided on confirmed grants, agreements and break-glass only; the three link
rules bind the Director's office's confirmation (and its review queue) and break-glass.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from domain.access import AccessApplication
from domain.access.facts import ChartAsk
from domain.access.policy import Decision, Principal
from domain.base import DecodedCache
from domain.errors import DataShredded, LinkRefusal, NotFound
from domain.staff.application import StaffApplication
from ops.bootstrap import System
from tests import canaries

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
HIRED = date(2024, 1, 8)
LEGAL_NAME = "Marisol Vantongeren-Okoye"
canaries.plant(LEGAL_NAME)


def staff(system: System, staff_id: str, roles: list[str], supervisor: str | None = None) -> None:
    title = "clinician" if "clinician" in roles else "program_manager"
    system.staff.hire(staff_id, f"Staff {staff_id}", title, roles, HIRED, supervisor_id=supervisor)
    system.staff.sign_agreement(staff_id, "2024.1", HIRED)


@pytest.fixture
def agency(memory_system: System) -> System:
    staff(memory_system, "PO", ["privacy_officer"])
    staff(memory_system, "M-1", ["manager", "clinician"])
    staff(memory_system, "R-1", ["peer_staff", "clinician"], supervisor="M-1")
    staff(memory_system, "C-1", ["clinician"])
    return memory_system


def enrol(system: System, staff_id: str | None, category: str = "employee") -> str:
    pseudonym, _ = system.subjects.enrol(
        LEGAL_NAME, date(1990, 2, 3), category, staff_id=staff_id, enrolled_on=HIRED
    )
    return pseudonym


def grant(system: System, grantee: str, pseudonym: str, purpose: str = "TREAT",
          confirm: bool = True) -> Any:
    """A grant, confirmed by the Director's office (which checks the link rules first)."""
    subject = system.subjects.get(pseudonym)
    gid, _ = system.access.grant(
        grantee, pseudonym, subject.id, "write", purpose, NOW + timedelta(days=30),
        "treating clinician", "PO", NOW - timedelta(days=1), actor_roles=["privacy_officer"],
    )
    if confirm:
        denial = system.chart_access.link_denial(grantee, pseudonym, purpose, NOW.date())
        system.access.confirm(gid, "D-1", NOW - timedelta(hours=20), denial,
                              actor_roles=["director"])
    return gid


def refused_confirmation(system: System, grantee: str, pseudonym: str) -> str:
    with pytest.raises(LinkRefusal) as caught:
        grant(system, grantee, pseudonym)
    return caught.value.rule


def decide(system: System, who: str, pseudonym: str, purpose: str = "TREAT") -> Decision:
    roles = frozenset(system.staff.get(who).roles)
    return system.chart_access.decide(Principal(who, roles), "read", pseudonym, purpose, NOW)


def test_a_granted_clinician_reads(agency: System) -> None:
    pseudonym = enrol(agency, "R-1")
    grant(agency, "C-1", pseudonym)
    assert decide(agency, "C-1", pseudonym).rule == "grant"


def test_no_grant_is_denied(agency: System) -> None:
    decision = decide(agency, "C-1", enrol(agency, "R-1"))
    assert (decision.allowed, decision.rule) == (False, "no_grant")


def test_staff_never_read_their_own_chart_even_with_a_grant(agency: System) -> None:
    pseudonym = enrol(agency, "R-1")
    assert refused_confirmation(agency, "R-1", pseudonym) == "self_access"
    decision = decide(agency, "R-1", pseudonym)
    assert (decision.allowed, decision.rule) == (False, "grant_unconfirmed")


def test_supervisor_is_refused_clinical_access(agency: System) -> None:
    pseudonym = enrol(agency, "R-1")
    assert refused_confirmation(agency, "M-1", pseudonym) == "supervisor_as_clinician"
    assert not decide(agency, "M-1", pseudonym).allowed
    grant(agency, "M-1", pseudonym, purpose="HOPERAT")  # not clinical: confirmed
    assert decide(agency, "M-1", pseudonym, "HOPERAT").rule == "grant"


def test_group_co_member_is_refused(agency: System) -> None:
    own = enrol(agency, "C-1")  # C-1 is a client too, and attends group G-7
    agency.subjects.add_group(own, "G-7", date(2026, 1, 1))
    other = enrol(agency, None, "public_figure")
    agency.subjects.add_group(other, "G-7", date(2026, 2, 1))
    assert refused_confirmation(agency, "C-1", other) == "group_co_member"


def test_without_a_current_agreement_access_is_refused(agency: System) -> None:
    agency.staff.hire("C-9", "Staff C-9", "clinician", ["clinician"], HIRED)
    pseudonym = enrol(agency, "R-1")
    grant(agency, "C-9", pseudonym)
    assert decide(agency, "C-9", pseudonym).rule == "no_confidentiality_agreement"


def test_linked_and_unlinked_grantees_are_decided_alike(agency: System) -> None:
    """A linked grantee's pending grant reads exactly as an unlinked one's."""
    own = enrol(agency, "C-1")
    agency.subjects.add_group(own, "G-7", date(2026, 1, 1))
    co_member = enrol(agency, None, "public_figure")
    agency.subjects.add_group(co_member, "G-7", date(2026, 2, 1))
    supervised, stranger = enrol(agency, "R-1"), enrol(agency, None, "public_figure")
    asks = (("C-1", co_member), ("C-1", own), ("M-1", supervised), ("C-1", stranger))
    for who, pseudonym in asks:
        grant(agency, who, pseudonym, confirm=False)
    denials = [decide(agency, who, pseudonym) for who, pseudonym in asks]
    assert {(d.allowed, d.rule) for d in denials} == {(False, "grant_unconfirmed")}
    assert [agency.chart_access.link_denial(w, p, "TREAT", NOW.date()) is not None
            for w, p in asks] == [True, True, True, False]


def test_the_link_is_stored_only_as_a_keyed_hash(agency: System) -> None:
    pseudonym = enrol(agency, "R-1")
    subject = agency.subjects.get(pseudonym)
    assert subject.staff_link and "R-1" not in subject.staff_link
    assert subject.staff_link == agency.subjects.link_of("R-1")
    assert LEGAL_NAME not in repr(vars(subject))


def test_decisions_follow_changes_recorded_elsewhere(agency: System) -> None:
    """The decoded copies a decision reads are checked against the log every time: a
    grant, a revocation or a new supervisor recorded by another process (here another
    application on the same store) counts on the very next decision."""
    pseudonym = enrol(agency, "R-1")
    assert decide(agency, "C-1", pseudonym).rule == "no_grant"  # the copies are warm
    access, staff = AccessApplication(agency.infrastructure), StaffApplication(agency.infrastructure)
    grant_id, _ = access.grant(
        "C-1", pseudonym, agency.subjects.get(pseudonym).id, "write", "TREAT",
        NOW + timedelta(days=30), "treating clinician", "PO", NOW - timedelta(days=1),
        actor_roles=["privacy_officer"],
    )
    assert decide(agency, "C-1", pseudonym).rule == "grant_unconfirmed"
    access.confirm(grant_id, "D-1", NOW - timedelta(hours=2), None, actor_roles=["director"])
    assert decide(agency, "C-1", pseudonym).rule == "grant"
    # A link that arises later goes before the Director's office, not into the read.
    staff.change_supervisor("R-1", "C-1")
    assert decide(agency, "C-1", pseudonym).rule == "grant"
    assert agency.chart_access.link_denial("C-1", pseudonym, "TREAT", NOW.date()) is not None
    staff.change_supervisor("R-1", "M-1")
    assert agency.chart_access.link_denial("C-1", pseudonym, "TREAT", NOW.date()) is None
    access.revoke(grant_id, "PO", "left the team", NOW - timedelta(hours=1),
                  actor_roles=["privacy_officer"])
    assert decide(agency, "C-1", pseudonym).rule == "grant_revoked"


def test_read_only_copies_are_never_changed_by_later_events(agency: System) -> None:
    pseudonym = enrol(agency, "R-1")
    subject_id = agency.subjects.get(pseudonym).id
    before = agency.subjects.current_many(subject_id)[subject_id]
    agency.subjects.add_group(pseudonym, "G-1", HIRED)
    after = agency.subjects.current_many(subject_id)[subject_id]
    assert (before.version + 1, before.groups) == (after.version, [])
    assert after.groups and agency.subjects.current_many(subject_id)[subject_id] is after
    assert agency.subjects.current_many(uuid4()) == {}


def test_decoded_copies_are_bounded_by_events_and_least_recently_read_go_first() -> None:
    cache = DecodedCache(max_events=10)
    a, b, c = uuid4(), uuid4(), uuid4()
    cache.put({a: SimpleNamespace(version=4), b: SimpleNamespace(version=4)})
    cache.get_many([a])  # reading does not reorder; holding it again does
    cache.put({a: cache.get(a)})
    cache.put({c: SimpleNamespace(version=3)})  # 11 events: b, the least recent, goes
    assert [i for i, v in cache.get_many([a, b, c]).items() if v] == [a, c]
    cache.put({a: SimpleNamespace(version=2)})  # a slower reader's older copy is not held
    assert cache.get(a).version == 4
    cache.put({a: None})  # found to be gone
    assert cache.get(a) is None


def test_the_chart_read_with_a_decision_is_given_only_when_the_decision_allows(
    agency: System,
) -> None:
    pseudonym = enrol(agency, "R-1")
    agency.charts.open(pseudonym, agency.subjects.get(pseudonym).id, HIRED)

    def assessed(who: str) -> Any:
        roles = frozenset(agency.staff.get(who).roles)
        return agency.chart_access.assess_decision(
            Principal(who, roles), "read", pseudonym, "TREAT", NOW, with_chart=True)

    refused = assessed("C-1")
    assert (refused.decision.rule, refused.chart) == ("no_grant", None)
    grant(agency, "C-1", pseudonym)
    allowed = assessed("C-1")
    assert allowed.decision.allowed and allowed.chart.__dict__ == agency.charts.get(pseudonym).__dict__
    grant(agency, "R-1", pseudonym, confirm=False)  # self access: never confirmed
    assert assessed("R-1").chart is None


def test_deciding_several_at_once_decides_each_as_alone(agency: System) -> None:
    """`assess_all` reads every ask's aggregates in one query; each answer is what that
    ask decided alone would be, and an unknown pseudonym's NotFound stays its own."""
    own, other = enrol(agency, "R-1"), enrol(agency, None, "public_figure")
    for pseudonym in (own, other):
        agency.charts.open(pseudonym, agency.subjects.get(pseudonym).id, HIRED)
    grant(agency, "C-1", other)
    grant(agency, "R-1", own, confirm=False)
    asks = [ChartAsk(Principal(who, frozenset(agency.staff.get(who).roles)), action, pseudonym,
                     purpose, NOW, with_chart=True)
            for who in ("C-1", "R-1", "M-1", "PO")
            for pseudonym in (own, other, "SQ-ZZZZ-ZZZZ")
            for action, purpose in (("read", "TREAT"), ("write", "TREAT"), ("read", "HPAYMT"))]
    together = agency.chart_access.assess_all(asks)

    def alone(ask: ChartAsk) -> Any:
        try:
            return agency.chart_access.assess_decision(*ask[:5], with_chart=True)
        except NotFound as e:
            return e

    assert len(together) == len(asks)
    allowed = 0
    for ask, answer, expected in zip(asks, together, map(alone, asks), strict=True):
        if isinstance(expected, NotFound):
            assert isinstance(answer, NotFound) and str(answer) == str(expected), ask
            continue
        assert not isinstance(answer, Exception), ask
        assert answer.subject.pseudonym == expected.subject.pseudonym, ask
        assert answer.decision == expected.decision, ask
        assert (answer.chart is None) == (expected.chart is None), ask
        allowed += answer.decision.allowed
        assert answer.chart is None or answer.chart.pseudonym == ask.pseudonym
    assert allowed == 2  # C-1 reads and writes the public figure's chart for treatment


def test_a_shredded_subject_fails_only_its_own_read_in_a_batch(agency: System) -> None:
    """The batch's one query would fail whole on a shredded subject's events: every other
    read of the batch is still decided (each on its own), and only that one fails."""
    shredded, kept = enrol(agency, None, "public_figure"), enrol(agency, None, "public_figure")
    for pseudonym in (shredded, kept):
        agency.charts.open(pseudonym, agency.subjects.get(pseudonym).id, HIRED)
        grant(agency, "C-1", pseudonym)
    who = Principal("C-1", frozenset({"clinician"}))
    asks = [ChartAsk(who, "read", p, "TREAT", NOW, with_chart=True) for p in (kept, shredded)]
    agency.chart_access.assess_all(asks)  # both decoded copies are cached
    agency.keyring.shred(agency.subjects.get(shredded).id, "retention period ended")
    kept_answer, shredded_answer = agency.chart_access.assess_all(asks)
    assert isinstance(shredded_answer, DataShredded)
    assert not isinstance(kept_answer, Exception)
    assert kept_answer.decision.allowed and kept_answer.chart.pseudonym == kept
