"""Replay of any aggregate as of a version or a time, with redaction by default."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, AggregateEvent

from domain.audit.replay import (
    KINDS,
    REDACTED,
    REVEAL_GROUPS,
    aggregate_state,
    replay,
    reveal_for,
)
from domain.audit.trail import AuditEntry
from domain.charts.aggregate import chart_uuid
from domain.dual_relationships import Actor, Disclosure
from domain.errors import InvalidInput, NotFound
from domain.staff.aggregate import staff_uuid
from domain.subjects.identity import identity_uuid
from domain.subjects.subject import subject_uuid
from ops.bootstrap import System

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
LEGAL_NAME = "Zelda Quartermain-Okonkwo"
BIRTH_DATE = date(1985, 4, 12)
CHART_NOTE = "client spoke about the custody hearing and a lapse"
REOPEN_REASON = "returned for aftercare after the custody hearing"
CONDITION = "chronic migraine with photophobia"
MEDICAL_NOTE = "trial of dimmed lighting discussed with hr"
HARDSHIP = "none"
SECRETS = (LEGAL_NAME, "1985-04-12", CHART_NOTE, REOPEN_REASON, CONDITION, MEDICAL_NOTE)
EMPLOYEE = "RSS-1"


@dataclass(frozen=True)
class World:
    """The public ids of one aggregate of every kind."""

    pseudonym: str
    unlinked: str
    grant_id: UUID
    break_glass_id: UUID
    case_id: UUID
    request_id: UUID
    record_id: UUID

    def public_id(self, kind: str) -> str:
        ids = {
            "staff": EMPLOYEE,
            "subject": self.pseudonym,
            "identity": self.pseudonym,
            "chart": self.pseudonym,
            "grant": str(self.grant_id),
            "break_glass": str(self.break_glass_id),
            "dual_relationship": str(self.case_id),
            "accommodation": str(self.request_id),
            "audit_record": str(self.record_id),
        }
        return ids[kind]


def hire_staff(system: System) -> None:
    staff = system.staff
    staff.hire("CLIN-1", "C. Linician", "clinician", ["clinician"], date(2020, 1, 1))
    staff.hire("PO-1", "P. Officer", "privacy_officer", ["privacy_officer"], date(2020, 1, 1))
    staff.hire("HR-1", "H. Resources", "hr_specialist", ["hr"], date(2020, 1, 1))
    staff.hire("M-1", "M. Anager", "program_manager", ["manager"], date(2020, 1, 1))
    staff.hire(
        EMPLOYEE,
        "R. Specialist",
        "recovery_support_specialist",
        ["peer_staff"],
        date(2023, 6, 1),
        supervisor_id="M-1",
    )
    staff.sign_agreement(EMPLOYEE, "v1", date(2023, 6, 2))


def chart_with_history(system: System) -> str:
    pseudonym, _ = system.subjects.enrol(
        LEGAL_NAME, BIRTH_DATE, "employee", EMPLOYEE, enrolled_on=date(2024, 1, 5)
    )
    charts = system.charts
    charts.open(pseudonym, subject_uuid(pseudonym), date(2024, 1, 5))
    charts.add_entry(
        pseudonym, "CLIN-1", True, "individual_session", None, date(2024, 1, 10), CHART_NOTE, NOW
    )
    charts.close_chart(pseudonym, date(2024, 3, 1), "CLIN-1")
    charts.reopen(pseudonym, date(2024, 3, 2), "CLIN-1", REOPEN_REASON)
    return pseudonym


def access_records(system: System, pseudonym: str) -> tuple[UUID, UUID]:
    subject_id = subject_uuid(pseudonym)
    grant_id, _ = system.access.grant(
        "CLIN-1",
        pseudonym,
        subject_id,
        "read",
        "TREAT",
        NOW + timedelta(days=30),
        "assigned clinician",
        "PO-1",
        NOW,
        actor_roles={"privacy_officer"},
    )
    system.access.revoke(
        grant_id,
        "PO-1",
        "caseload moved",
        NOW + timedelta(hours=1),
        actor_roles={"privacy_officer"},
    )
    break_glass_id, _ = system.access.invoke_break_glass(
        "CLIN-1", pseudonym, subject_id, "ETREAT", "crisis call", NOW, actor_roles={"clinician"}
    )
    return grant_id, break_glass_id


def disclosure_case(system: System, counterpart: str) -> UUID:
    disclosure = Disclosure(
        staff_id=EMPLOYEE,
        kind="social",
        began_on=date(2023, 3, 1),
        predates_hire=True,
        disclosed_on=date(2024, 1, 20),
        disclosed_to="M-1",
        hired_on=date(2023, 6, 1),
        counterpart_case_status="open",
        counterpart_pseudonym=counterpart,
    )
    case_id, _ = system.dual_relationships.disclose(
        Actor(EMPLOYEE, frozenset({"peer_staff"})), disclosure, NOW
    )
    system.dual_relationships.refer(
        case_id, Actor("M-1", frozenset({"manager"})), date(2024, 1, 22)
    )
    return case_id


def accommodation(system: System) -> UUID:
    apps = system.accommodations
    request_id, _ = apps.file(
        EMPLOYEE, EMPLOYEE, CONDITION, "later shifts", "mornings", date(2024, 3, 1)
    )
    apps.add_note(request_id, "HR-1", ["hr"], MEDICAL_NOTE, NOW)
    apps.deny(request_id, "HR-1", ["hr"], HARDSHIP, NOW)
    return request_id


def audit_entry(**changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "principal": "CLIN-1",
        "roles": ["clinician"],
        "action": "chart.read",
        "target": "SQ-7F3K-Q9XM",
        "decision": "allowed",
        "rule": "grant",
        "at": NOW,
        "request_id": "req-1",
        "purpose": "TREAT",
    }
    fields.update(changes)
    return AuditEntry(**fields)


def build_world(system: System) -> World:
    hire_staff(system)
    pseudonym = chart_with_history(system)
    unlinked, _ = system.subjects.enrol(
        "Other Person", date(1970, 1, 1), "public_figure", enrolled_on=date(2024, 1, 6)
    )
    grant_id, break_glass_id = access_records(system, pseudonym)
    entry = audit_entry(target=pseudonym)
    system.audit.record(entry)
    return World(
        pseudonym=pseudonym,
        unlinked=unlinked,
        grant_id=grant_id,
        break_glass_id=break_glass_id,
        case_id=disclosure_case(system, unlinked),
        request_id=accommodation(system),
        record_id=entry.record_id,
    )


@pytest.fixture
def world(memory_system: System) -> World:
    return build_world(memory_system)


def aggregate_id(world: World, kind: str) -> UUID:
    public = world.public_id(kind)
    special = {
        "staff": staff_uuid,
        "subject": subject_uuid,
        "identity": identity_uuid,
        "chart": chart_uuid,
    }
    return special[kind](public) if kind in special else UUID(public)


def folded(system: System, kind: str, world: World) -> list[dict[str, Any]]:
    """An independent replay: the aggregate's events folded one by one, straight from
    the event store (no repository), and its full state taken after each."""
    aggregate: Aggregate | None = None
    states = []
    for domain_event in system.staff.events.get(aggregate_id(world, kind)):
        aggregate = domain_event.mutate(aggregate)  # type: ignore[attr-defined]
        assert aggregate is not None
        states.append(aggregate_state(aggregate))
    return states


ALL_KINDS = sorted(KINDS)


# --- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_version_equals_an_independent_replay(
    memory_system: System, world: World, kind: str
) -> None:
    versions = folded(memory_system, kind, world)
    assert versions
    for n, expected in enumerate(versions, start=1):
        result = replay(memory_system, kind, world.public_id(kind), version=n, reveal=REVEAL_GROUPS)
        assert result.version == expected["version"] == n
        assert result.state == expected


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_without_version_or_time_the_latest_state_is_shown(
    memory_system: System, world: World, kind: str
) -> None:
    latest = folded(memory_system, kind, world)[-1]
    result = replay(memory_system, kind, world.public_id(kind), reveal=REVEAL_GROUPS)
    assert result.version == latest["version"] and result.as_of is None
    assert result.state == latest


def test_the_state_is_plain_json(memory_system: System, world: World) -> None:
    state = replay(memory_system, "chart", world.pseudonym, reveal=REVEAL_GROUPS).state
    assert json.loads(json.dumps(state)) == state
    assert state["opened_on"] == "2024-01-05"
    assert state["subject_id"] == str(subject_uuid(world.pseudonym))
    assert state["entries"][0]["recorded_at"] == NOW.isoformat()
    assert state["closures"][0]["closed_on"] == "2024-03-01"


def test_a_version_shows_the_state_before_later_events(memory_system: System, world: World) -> None:
    state = replay(memory_system, "chart", world.pseudonym, version=2).state
    assert state["status"] == "open" and len(state["entries"]) == 1 and state["closures"] == []


def test_version_zero_is_refused(memory_system: System, world: World) -> None:
    with pytest.raises(InvalidInput, match="version"):
        replay(memory_system, "staff", EMPLOYEE, version=0)


def test_a_version_past_the_latest_is_not_found_and_says_not_how_many(
    memory_system: System, world: World
) -> None:
    """Saying how many versions there are would answer for any id whether it exists."""
    with pytest.raises(NotFound) as caught:
        replay(memory_system, "staff", EMPLOYEE, version=3)
    assert str(caught.value) == f"staff member {EMPLOYEE} has no version 3"
    assert "2" not in str(caught.value).replace(EMPLOYEE, "")


def test_as_of_and_version_together_are_refused(memory_system: System, world: World) -> None:
    with pytest.raises(InvalidInput, match="not both"):
        replay(memory_system, "staff", EMPLOYEE, version=1, as_of=datetime.now(UTC))


# --- as of a time --------------------------------------------------------------------------


def test_as_of_between_events_shows_the_earlier_version(memory_system: System) -> None:
    memory_system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    between = datetime.now(UTC)
    memory_system.staff.sign_agreement("S-1", "v1", date(2024, 1, 9))
    result = replay(memory_system, "staff", "S-1", as_of=between)
    assert result.version == 1 and result.as_of == between
    assert result.state["agreements"] == []


def test_as_of_after_the_last_event_shows_the_latest(memory_system: System) -> None:
    memory_system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    memory_system.staff.sign_agreement("S-1", "v1", date(2024, 1, 9))
    result = replay(memory_system, "staff", "S-1", as_of=datetime.now(UTC))
    assert result.version == 2
    assert result.state["agreements"] == [{"version": "v1", "signed_on": "2024-01-09"}]


def test_as_of_an_events_own_time_includes_it(memory_system: System) -> None:
    memory_system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    memory_system.staff.sign_agreement("S-1", "v1", date(2024, 1, 9))
    first = next(iter(memory_system.staff.events.get(staff_uuid("S-1"))))
    assert isinstance(first, AggregateEvent)
    assert replay(memory_system, "staff", "S-1", as_of=first.timestamp).version == 1


def test_as_of_before_the_first_event_is_not_found(memory_system: System) -> None:
    before = datetime.now(UTC)
    memory_system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    with pytest.raises(NotFound, match="did not exist at"):
        replay(memory_system, "staff", "S-1", as_of=before)


def test_a_naive_as_of_is_refused(memory_system: System) -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        replay(memory_system, "staff", "S-1", as_of=datetime(2030, 1, 1))


# --- kinds and ids -------------------------------------------------------------------------


def test_the_documented_kinds_are_known() -> None:
    documented = {
        "staff",
        "subject",
        "chart",
        "grant",
        "break_glass",
        "dual_relationship",
        "accommodation",
        "audit_record",
    }
    assert documented <= set(KINDS)


def test_an_unknown_kind_names_the_known_kinds(memory_system: System) -> None:
    with pytest.raises(InvalidInput) as refused:
        replay(memory_system, "Zelda's file", "S-1")
    assert "chart" in refused.value.detail and "Zelda" not in refused.value.detail


@pytest.mark.parametrize("kind", ["staff", "subject", "chart", "grant", "audit_record"])
def test_a_malformed_id_is_refused_without_echoing_it(memory_system: System, kind: str) -> None:
    typed_by_mistake = LEGAL_NAME * 10
    with pytest.raises(InvalidInput) as refused:
        replay(memory_system, kind, typed_by_mistake)
    assert "Zelda" not in refused.value.detail


def test_a_staff_id_with_control_characters_is_refused(memory_system: System) -> None:
    with pytest.raises(InvalidInput, match="malformed staff id"):
        replay(memory_system, "staff", "S-1\n")


@pytest.mark.parametrize("kind", ["staff", "chart", "grant"])
def test_an_unknown_id_is_not_found(memory_system: System, kind: str) -> None:
    public = {"staff": "S-404", "chart": "SQ-7F3K-Q9XM", "grant": str(uuid4())}[kind]
    with pytest.raises(NotFound, match="does not exist"):
        replay(memory_system, kind, public)


def test_an_id_of_another_kind_is_not_found(memory_system: System, world: World) -> None:
    with pytest.raises(NotFound, match="grant"):
        replay(memory_system, "grant", str(world.break_glass_id))


def test_a_lower_case_pseudonym_names_the_same_chart(memory_system: System, world: World) -> None:
    result = replay(memory_system, "chart", world.pseudonym.lower())
    assert result.id == world.pseudonym


def test_a_uuid_object_is_accepted(memory_system: System, world: World) -> None:
    assert replay(memory_system, "grant", world.grant_id).id == str(world.grant_id)


def test_a_director_note_is_not_an_audit_record(memory_system: System) -> None:
    entry = audit_entry(decision="denied", rule="sequestration", director_rule="self_access")
    memory_system.audit.record(entry)
    rows = memory_system.infrastructure.recorder.select_notifications(1, 100)
    note_id = next(r.originator_id for r in rows if r.topic.endswith("DirectorAuditNote.Noted"))
    with pytest.raises(NotFound):
        replay(memory_system, "audit_record", str(note_id))


def test_an_audit_record_replays_its_public_entry(memory_system: System, world: World) -> None:
    state = replay(memory_system, "audit_record", str(world.record_id)).state
    assert state["entry"]["target"] == world.pseudonym
    assert state["entry"]["at"] == NOW.isoformat() and "director_rule" not in state["entry"]


# --- redaction -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_no_secret_is_shown_by_default(memory_system: System, world: World, kind: str) -> None:
    text = json.dumps(replay(memory_system, kind, world.public_id(kind)).state)
    assert not [s for s in SECRETS if s in text]


def test_the_identity_record_is_redacted_by_default(memory_system: System, world: World) -> None:
    state = replay(memory_system, "identity", world.pseudonym).state
    assert state["legal_name"] == state["birth_date"] == state["staff_id"] == REDACTED
    assert state["pseudonym"] == world.pseudonym


def test_revealing_identity_shows_the_legal_identity(memory_system: System, world: World) -> None:
    state = replay(memory_system, "identity", world.pseudonym, reveal={"identity"}).state
    assert state["legal_name"] == LEGAL_NAME and state["birth_date"] == "1985-04-12"
    assert state["staff_id"] == EMPLOYEE


def test_the_staff_link_is_redacted_even_when_there_is_none(
    memory_system: System, world: World
) -> None:
    linked = replay(memory_system, "subject", world.pseudonym).state
    unlinked = replay(memory_system, "subject", world.unlinked).state
    assert linked["staff_link"] == unlinked["staff_link"] == REDACTED


def test_revealing_the_link_shows_it(memory_system: System, world: World) -> None:
    state = replay(memory_system, "subject", world.pseudonym, reveal={"link"}).state
    assert state["staff_link"] == memory_system.subjects.link_of(EMPLOYEE)


def test_chart_notes_are_redacted_by_default(memory_system: System, world: World) -> None:
    state = replay(memory_system, "chart", world.pseudonym).state
    assert state["entries"][0]["note"] == REDACTED
    # activity types and service codes are clinical (a SUD code is 42 CFR Part 2 data)
    assert state["entries"][0]["activity_type"] == state["entries"][0]["service_code"] == REDACTED
    assert state["entries"][0]["author"] and state["closures"][0]["reopen_reason"] == REDACTED


def test_revealing_notes_shows_them(memory_system: System, world: World) -> None:
    state = replay(memory_system, "chart", world.pseudonym, reveal={"notes"}).state
    assert state["entries"][0]["note"] == CHART_NOTE


def test_the_medical_file_is_redacted_by_default(memory_system: System, world: World) -> None:
    state = replay(memory_system, "accommodation", str(world.request_id)).state
    assert state["condition"] == state["functions_affected"] == REDACTED
    assert state["notes"][0]["text"] == REDACTED and state["notes"][0]["author"] == "HR-1"
    assert state["decision"] == state["requested"] == REDACTED
    assert state["status"] and state["employee_id"]


def test_revealing_medical_shows_the_file(memory_system: System, world: World) -> None:
    state = replay(memory_system, "accommodation", str(world.request_id), reveal={"medical"}).state
    assert state["condition"] == CONDITION and state["notes"][0]["text"] == MEDICAL_NOTE


def test_revealing_one_group_keeps_the_others_redacted(memory_system: System, world: World) -> None:
    state = replay(memory_system, "identity", world.pseudonym, reveal={"notes", "medical"}).state
    assert state["legal_name"] == REDACTED


def test_an_unknown_group_to_reveal_is_refused(memory_system: System, world: World) -> None:
    with pytest.raises(InvalidInput, match="known groups"):
        replay(memory_system, "identity", world.pseudonym, reveal={"everything"})


# -- what each role's replay shows: no more than its own routes ------------------------


def test_an_auditor_sees_no_subject_details_supervisor_or_free_text(
    memory_system: System, world: World
) -> None:
    auditor = reveal_for({"auditor"})
    subject = replay(memory_system, "subject", world.pseudonym, reveal=auditor).state
    assert {subject[k] for k in ("category", "labels", "groups", "clinicians", "staff_link")} == {
        REDACTED}
    staff = replay(memory_system, "staff", EMPLOYEE, reveal=auditor).state
    assert staff["supervisor_id"] == REDACTED and staff["job_title"]


def test_the_directors_office_sees_subjects_but_never_notes_or_medical(
    memory_system: System, world: World
) -> None:
    director = reveal_for({"director", "auditor"})
    subject = replay(memory_system, "subject", world.pseudonym, reveal=director).state
    assert subject["category"] == "employee" and subject["staff_link"] != REDACTED
    chart = replay(memory_system, "chart", world.pseudonym, reveal=director).state
    assert chart["entries"][0]["note"] == REDACTED
    medical = replay(memory_system, "accommodation", str(world.request_id), reveal=director).state
    assert medical["condition"] == REDACTED


def test_an_unlisted_attribute_is_redacted_for_everyone(memory_system: System, world: World) -> None:
    from domain.audit.replay import redact
    from domain.subjects.subject import Subject

    subject = memory_system.subjects.get(world.pseudonym)
    state = redact(subject, {"pseudonym": "SQ", "new_field": "x", "version": 1},
                   REVEAL_GROUPS)
    assert state == {"pseudonym": "SQ", "new_field": REDACTED, "version": 1}
    assert isinstance(subject, Subject)
