"""Enrolment, the Director's office directory, unlinkability and replay."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from domain.base import KEK_DIRECTOR, KEK_EVENTS
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DataShredded,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from domain.subjects import SubjectsApplication, check_pseudonym, new_pseudonym
from domain.subjects.identity import SUBJECT_INDEX_ID, identity_uuid, link_index_uuid
from domain.subjects.subject import ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM, LOCAL_SYSTEM
from ops.bootstrap import System

NAME = "Philippa Quenby-Zaragoza"
BIRTH = date(1979, 3, 14)
STAFF = "staff-ZEBRA-77"
TODAY = date(2024, 5, 1)


def hasher(value: str) -> str:
    return hmac.new(b"k" * 32, value.encode(), "sha256").hexdigest()


@pytest.fixture
def app(memory_system: System) -> SubjectsApplication:
    return SubjectsApplication(memory_system.infrastructure, hasher)


def enrol(app: SubjectsApplication, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "legal_name": NAME,
        "birth_date": BIRTH,
        "category": "employee",
        "staff_id": STAFF,
        "enrolled_on": TODAY,
    }
    fields.update(overrides)
    pseudonym, _ = app.enrol(**fields)
    return pseudonym


# Enrolment --------------------------------------------------------------------------


def test_enrolment_issues_a_valid_pseudonym_and_a_position(app: SubjectsApplication) -> None:
    pseudonym, position = app.enrol(NAME, BIRTH, "employee", STAFF, enrolled_on=TODAY)
    assert check_pseudonym(pseudonym) == pseudonym
    assert position == app.position() and position > 0


def test_enrolment_records_the_subject_without_its_name(app: SubjectsApplication) -> None:
    subject = app.get(enrol(app))
    assert subject.category == "employee"
    assert subject.enrolled_on == TODAY
    assert subject.staff_link == hasher(STAFF)
    assert subject.groups == [] and subject.clinicians == []


def test_enrolment_records_the_identity_under_the_director_key(app: SubjectsApplication) -> None:
    pseudonym = enrol(app)
    record = app.identity(pseudonym)
    assert (record.legal_name, record.birth_date, record.staff_id) == (NAME, BIRTH, STAFF)
    assert record.key_scope == (KEK_DIRECTOR, app.get(pseudonym).id)
    assert app.get(pseudonym).key_scope == (KEK_EVENTS, app.get(pseudonym).id)


def test_enrolment_commits_subject_identity_and_indexes_together(app: SubjectsApplication) -> None:
    pseudonym, position = app.enrol(NAME, BIRTH, "employee", STAFF, enrolled_on=TODAY)
    notifications = app.recorder.select_notifications(start=1, limit=10)
    assert {n.originator_id for n in notifications} == {
        app.get(pseudonym).id,
        identity_uuid(pseudonym),
        SUBJECT_INDEX_ID,
        link_index_uuid(app.link_of(STAFF)),
    }
    assert notifications[-1].id == position


@pytest.mark.parametrize(
    ("category", "sensitivity"),
    [
        ("employee", {"system": ACT_CODE_SYSTEM, "code": "EMP"}),
        ("employee_relative", {"system": LOCAL_SYSTEM, "code": "EMPREL"}),
        ("public_figure", {"system": ACT_CODE_SYSTEM, "code": "CEL"}),
        ("public_figure_relative", {"system": LOCAL_SYSTEM, "code": "CELREL"}),
    ],
)
def test_each_category_gets_its_sensitivity_label(
    app: SubjectsApplication, category: str, sensitivity: dict[str, str]
) -> None:
    staff = STAFF if category == "employee" else None
    subject = app.get(enrol(app, category=category, staff_id=staff))
    assert subject.labels == [{"system": CONFIDENTIALITY_SYSTEM, "code": "R"}, sensitivity]


def test_confidentiality_v_and_program_labels_are_recorded(app: SubjectsApplication) -> None:
    pseudonym = enrol(app, confidentiality="V", program_labels=["SUD", "42CFRPart2", "SUD"])
    assert app.get(pseudonym).labels == [
        {"system": CONFIDENTIALITY_SYSTEM, "code": "V"},
        {"system": ACT_CODE_SYSTEM, "code": "EMP"},
        {"system": ACT_CODE_SYSTEM, "code": "SUD"},
        {"system": ACT_CODE_SYSTEM, "code": "42CFRPart2"},
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"legal_name": "   "},
        {"legal_name": "x" * 201},
        {"birth_date": date(2024, 5, 2)},
        {"birth_date": date(1850, 1, 1)},
        {"birth_date": "1979-03-14"},
        {"category": "celebrity"},
        {"confidentiality": "N"},
        {"program_labels": ["HIV"]},
        {"staff_id": None},
        {"staff_id": "  "},
        {"category": "public_figure"},
        {"enrolled_on": None},
    ],
)
def test_bad_enrolment_input_is_refused_and_changes_nothing(
    app: SubjectsApplication, overrides: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        enrol(app, **overrides)
    assert NAME not in caught.value.detail and "1979" not in caught.value.detail
    assert app.position() == 0


def test_an_employee_relative_may_be_enrolled_without_a_staff_id(app: SubjectsApplication) -> None:
    assert app.get(enrol(app, category="employee_relative", staff_id=None)).staff_link is None


def test_an_employee_relative_may_be_linked_to_the_employee(app: SubjectsApplication) -> None:
    subject = app.get(enrol(app, category="employee_relative"))
    assert subject.staff_link == app.link_of(STAFF)


def test_a_staff_member_is_enrolled_as_an_employee_only_once(app: SubjectsApplication) -> None:
    enrol(app)
    with pytest.raises(AlreadyExists) as caught:
        enrol(app, legal_name="Someone Else")
    assert STAFF not in caught.value.detail


def test_a_staff_member_may_have_relatives_enrolled_too(app: SubjectsApplication) -> None:
    enrol(app)
    enrol(app, category="employee_relative", legal_name="A Relative")
    assert len(app.subjects_linked_to(STAFF)) == 2


def test_a_colliding_pseudonym_is_redrawn(memory_system: System) -> None:
    draws = iter(["SQ-AAAA-AAAA", "SQ-AAAA-AAAA", "SQ-BBBB-BBBB"])
    app = SubjectsApplication(memory_system.infrastructure, hasher, pseudonyms=lambda: next(draws))
    first = enrol(app)
    second = enrol(app, category="public_figure", staff_id=None)
    assert (first, second) == ("SQ-AAAA-AAAA", "SQ-BBBB-BBBB")
    assert app.list_pseudonyms() == [first, second]


def test_enrolment_gives_up_when_no_unused_pseudonym_can_be_drawn(memory_system: System) -> None:
    app = SubjectsApplication(
        memory_system.infrastructure, hasher, pseudonyms=lambda: "SQ-AAAA-AAAA"
    )
    enrol(app)
    with pytest.raises(ConcurrencyConflict):
        enrol(app, category="public_figure", staff_id=None)
    assert app.list_pseudonyms() == ["SQ-AAAA-AAAA"]


def test_a_concurrent_enrolment_is_retried_once(memory_system: System) -> None:
    other = SubjectsApplication(memory_system.infrastructure, hasher)
    enrol(other)
    calls: list[str] = []

    def racing_draw() -> str:
        if not calls:  # another writer enrols between our read of the index and our save
            enrol(other, category="public_figure", staff_id=None)
        calls.append(new_pseudonym())
        return calls[-1]

    app = SubjectsApplication(memory_system.infrastructure, hasher, pseudonyms=racing_draw)
    pseudonym = enrol(app, category="public_figure", staff_id=None)
    assert pseudonym == calls[-1] and len(calls) == 2
    assert len(app.list_pseudonyms()) == 3


def test_a_concurrent_enrolment_of_the_same_employee_is_refused(memory_system: System) -> None:
    other = SubjectsApplication(memory_system.infrastructure, hasher)
    raced: list[bool] = []

    def racing_draw() -> str:
        if not raced:  # the same employee is enrolled meanwhile by another writer
            raced.append(True)
            enrol(other)
        return new_pseudonym()

    app = SubjectsApplication(memory_system.infrastructure, hasher, pseudonyms=racing_draw)
    with pytest.raises(AlreadyExists):
        enrol(app)
    assert len(app.list_pseudonyms()) == 1


# The directory ------------------------------------------------------------------------


def test_list_pseudonyms_is_empty_before_any_enrolment(app: SubjectsApplication) -> None:
    assert app.list_pseudonyms() == []


def test_list_pseudonyms_lists_every_enrolment_in_order(app: SubjectsApplication) -> None:
    first = enrol(app)
    second = enrol(app, category="public_figure", staff_id=None)
    assert app.list_pseudonyms() == [first, second]


def test_get_of_an_unknown_pseudonym_names_only_the_pseudonym(app: SubjectsApplication) -> None:
    with pytest.raises(NotFound, match="^subject SQ-AAAA-AAAA does not exist$"):
        app.get("sq-aaaa-aaaa")


def test_get_of_a_malformed_pseudonym_is_invalid_input(app: SubjectsApplication) -> None:
    with pytest.raises(InvalidInput):
        app.get("../SQ-AAAA-AAAA")


def test_the_director_resolves_a_pseudonym_with_a_reason(app: SubjectsApplication) -> None:
    pseudonym = enrol(app)
    assert app.resolve(pseudonym, "dual-relationship review", ["director"]) == {
        "pseudonym": pseudonym,
        "legal_name": NAME,
        "birth_date": BIRTH,
        "category": "employee",
    }


@pytest.mark.parametrize("roles", [[], ["clinician"], ["auditor", "privacy_officer"], "director"])
def test_only_the_director_resolves_a_pseudonym(app: SubjectsApplication, roles: Any) -> None:
    pseudonym = enrol(app)
    with pytest.raises(PermissionDenied) as caught:
        app.resolve(pseudonym, "curious", roles)
    assert caught.value.rule == "director_only"


@pytest.mark.parametrize("reason", ["", "   "])
def test_resolving_needs_a_reason(app: SubjectsApplication, reason: str) -> None:
    pseudonym = enrol(app)
    with pytest.raises(InvalidInput, match="needs a reason"):
        app.resolve(pseudonym, reason, ["director"])


def test_subjects_linked_to_finds_only_the_linked_subjects(app: SubjectsApplication) -> None:
    linked = enrol(app)
    enrol(app, category="public_figure", staff_id=None)
    enrol(app, staff_id="staff-other", legal_name="Other Person")
    assert [s.pseudonym for s in app.subjects_linked_to(STAFF)] == [linked]
    assert app.subjects_linked_to("staff-nobody") == []


def test_link_of_is_the_keyed_hash(app: SubjectsApplication) -> None:
    assert app.link_of(STAFF) == hasher(STAFF) != STAFF


def test_shredding_a_subject_shreds_its_identity(
    app: SubjectsApplication, memory_system: System
) -> None:
    pseudonym = enrol(app)
    memory_system.keyring.shred(app.get(pseudonym).id, "retention period ended")
    with pytest.raises(DataShredded):
        app.identity(pseudonym)
    with pytest.raises(DataShredded):
        app.get(pseudonym)
    assert app.subjects_linked_to(STAFF) == []
    assert app.list_pseudonyms() == [pseudonym]


# Unlinkability: no name, birth date or staff id outside the identity record ----------


def plaintexts(app: SubjectsApplication, memory_system: System, aggregate_id: Any) -> list[bytes]:
    mapper: Any = memory_system.infrastructure.mapper
    return [mapper.decrypt(row) for row in app.recorder.select_events(aggregate_id)]


def test_name_birth_date_and_staff_id_appear_only_in_the_identity_record(
    app: SubjectsApplication, memory_system: System
) -> None:
    pseudonym = enrol(app)
    app.add_group(pseudonym, "grp-1", date(2024, 5, 2))
    subject_id = app.get(pseudonym).id
    for aggregate_id in (subject_id, SUBJECT_INDEX_ID):
        for plain in plaintexts(app, memory_system, aggregate_id):
            for secret in (NAME, BIRTH.isoformat(), STAFF):
                assert secret.encode() not in plain
    identity = b"".join(plaintexts(app, memory_system, identity_uuid(pseudonym)))
    assert NAME.encode() in identity and STAFF.encode() in identity


def test_the_subject_state_holds_no_name_birth_date_or_staff_id(app: SubjectsApplication) -> None:
    subject = app.get(enrol(app))
    assert NAME not in repr(subject) and "1979" not in repr(subject) and STAFF not in repr(subject)


def test_the_identity_record_repr_holds_no_name(app: SubjectsApplication) -> None:
    record = app.identity(enrol(app))
    assert NAME not in repr(record) and "1979" not in repr(record)


# Replay ------------------------------------------------------------------------------


def test_the_subject_replays_to_equal_state_at_every_version(app: SubjectsApplication) -> None:
    pseudonym = enrol(app)
    snapshots = [app.get(pseudonym)]
    commands: list[Callable[[], int]] = [
        lambda: app.add_group(pseudonym, "grp-1", date(2024, 5, 2)),
        lambda: app.assign_clinician(pseudonym, "staff-clin", set()),
        lambda: app.add_labels(pseudonym, ["PSY"]),
        lambda: app.set_confidentiality(pseudonym, "V"),
        lambda: app.end_group(pseudonym, "grp-1", date(2024, 6, 1)),
        lambda: app.remove_clinician(pseudonym, "staff-clin"),
    ]
    for command in commands:
        command()
        snapshots.append(app.get(pseudonym))
    for version, expected in enumerate(snapshots, start=1):
        assert app.get(pseudonym, version=version) == expected
    assert snapshots[-1].version == 7
