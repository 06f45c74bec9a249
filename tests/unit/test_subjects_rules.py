"""Rules on a subject: group participation, clinicians, labels."""

from __future__ import annotations

import hmac
from datetime import date

import pytest

from domain.errors import InvalidInput, LinkRefusal, NotFound, RuleViolation
from domain.subjects import SEQUESTRATION_DENIAL, SubjectsApplication
from domain.subjects.subject import ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM
from ops.bootstrap import System

STAFF = "staff-ZEBRA-77"
SUPERVISOR = "staff-boss"
CLINICIAN = "staff-clin"
D = date(2024, 5, 1)


def hasher(value: str) -> str:
    return hmac.new(b"k" * 32, value.encode(), "sha256").hexdigest()


@pytest.fixture
def app(memory_system: System) -> SubjectsApplication:
    return SubjectsApplication(memory_system.infrastructure, hasher)


@pytest.fixture
def pseudonym(app: SubjectsApplication) -> str:
    pseudonym, _ = app.enrol("Philippa Quenby", date(1979, 3, 14), "employee", STAFF, enrolled_on=D)
    return pseudonym


@pytest.fixture
def public_figure(app: SubjectsApplication) -> str:
    pseudonym, _ = app.enrol("Famous Person", date(1960, 1, 1), "public_figure", enrolled_on=D)
    return pseudonym


# Groups --------------------------------------------------------------------------------


def test_joining_a_group_records_an_open_participation(
    app: SubjectsApplication, pseudonym: str
) -> None:
    position = app.add_group(pseudonym, "grp-1", D)
    assert position == app.position()
    assert app.get(pseudonym).groups == [{"group_id": "grp-1", "from": D, "to": None}]


def test_a_closed_participation_may_be_recorded(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_group(pseudonym, "grp-1", date(2023, 1, 1), date(2023, 6, 30))
    assert app.get(pseudonym).groups[0]["to"] == date(2023, 6, 30)


def test_a_participation_ending_before_it_starts_is_refused(
    app: SubjectsApplication, pseudonym: str
) -> None:
    with pytest.raises(InvalidInput, match="before it starts"):
        app.add_group(pseudonym, "grp-1", D, date(2024, 4, 30))
    assert app.get(pseudonym).groups == []


def test_a_one_day_participation_is_allowed(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_group(pseudonym, "grp-1", D, D)
    assert app.get(pseudonym).groups_on(D) == {"grp-1"}


@pytest.mark.parametrize("group_id", ["", "  ", "g" * 101])
def test_a_bad_group_id_is_refused(app: SubjectsApplication, pseudonym: str, group_id: str) -> None:
    with pytest.raises(InvalidInput):
        app.add_group(pseudonym, group_id, D)


def test_a_second_open_participation_in_one_group_is_refused(
    app: SubjectsApplication, pseudonym: str
) -> None:
    app.add_group(pseudonym, "grp-1", D)
    with pytest.raises(RuleViolation) as caught:
        app.add_group(pseudonym, "grp-1", date(2024, 6, 1))
    assert caught.value.rule == "group_already_open"


def test_open_participations_in_different_groups_are_allowed(
    app: SubjectsApplication, pseudonym: str
) -> None:
    app.add_group(pseudonym, "grp-1", D)
    app.add_group(pseudonym, "grp-2", D)
    assert app.get(pseudonym).groups_on(D) == {"grp-1", "grp-2"}


def test_an_overlapping_period_in_one_group_is_refused(
    app: SubjectsApplication, pseudonym: str
) -> None:
    app.add_group(pseudonym, "grp-1", date(2023, 1, 1), date(2023, 6, 30))
    with pytest.raises(RuleViolation) as caught:
        app.add_group(pseudonym, "grp-1", date(2023, 6, 30))
    assert caught.value.rule == "group_periods_overlap"


def test_rejoining_a_group_after_leaving_is_allowed(
    app: SubjectsApplication, pseudonym: str
) -> None:
    app.add_group(pseudonym, "grp-1", date(2023, 1, 1))
    app.end_group(pseudonym, "grp-1", date(2023, 6, 30))
    app.add_group(pseudonym, "grp-1", date(2023, 7, 1))
    assert app.get(pseudonym).groups_on(date(2023, 6, 30)) == {"grp-1"}
    assert len(app.get(pseudonym).groups) == 2


def test_ending_a_participation_records_its_end(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_group(pseudonym, "grp-1", D)
    app.end_group(pseudonym, "grp-1", date(2024, 7, 1))
    subject = app.get(pseudonym)
    assert subject.groups == [{"group_id": "grp-1", "from": D, "to": date(2024, 7, 1)}]
    assert subject.groups_on(date(2024, 7, 2)) == set()


def test_ending_before_the_start_is_refused(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_group(pseudonym, "grp-1", D)
    with pytest.raises(InvalidInput, match="before it starts"):
        app.end_group(pseudonym, "grp-1", date(2024, 4, 1))
    assert app.get(pseudonym).groups[0]["to"] is None


def test_ending_a_group_not_joined_is_refused(app: SubjectsApplication, pseudonym: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        app.end_group(pseudonym, "grp-1", D)
    assert caught.value.rule == "group_not_open"


def test_a_command_on_an_unknown_subject_is_not_found(app: SubjectsApplication) -> None:
    with pytest.raises(NotFound):
        app.add_group("SQ-AAAA-AAAA", "grp-1", D)


# Clinicians ------------------------------------------------------------------------------


def test_a_clinician_is_assigned(app: SubjectsApplication, pseudonym: str) -> None:
    app.assign_clinician(pseudonym, CLINICIAN, {app.link_of("staff-someone-else")})
    assert app.get(pseudonym).clinicians == [CLINICIAN]


def test_the_supervisor_of_the_employee_cannot_be_its_clinician(
    app: SubjectsApplication, pseudonym: str
) -> None:
    with pytest.raises(LinkRefusal) as caught:
        app.assign_clinician(pseudonym, SUPERVISOR, {app.link_of(STAFF)})
    assert caught.value.rule == "supervisor_as_clinician"
    assert caught.value.detail == SEQUESTRATION_DENIAL
    assert app.get(pseudonym).clinicians == []


def test_the_employee_cannot_be_its_own_clinician(app: SubjectsApplication, pseudonym: str) -> None:
    with pytest.raises(LinkRefusal) as caught:
        app.assign_clinician(pseudonym, STAFF, set())
    assert caught.value.rule == "self_clinician" and caught.value.public_rule == "sequestration"
    assert caught.value.detail == SEQUESTRATION_DENIAL
    assert app.get(pseudonym).clinicians == []


def test_the_denial_does_not_reveal_the_link(app: SubjectsApplication, pseudonym: str) -> None:
    with pytest.raises(LinkRefusal) as caught:
        app.assign_clinician(pseudonym, SUPERVISOR, {app.link_of(STAFF)})
    for revealing in (STAFF, SUPERVISOR, app.link_of(STAFF), pseudonym):
        assert revealing not in caught.value.detail


def test_supervisees_do_not_matter_for_an_unlinked_subject(
    app: SubjectsApplication, public_figure: str
) -> None:
    app.assign_clinician(public_figure, SUPERVISOR, {app.link_of(STAFF)})
    assert app.get(public_figure).clinicians == [SUPERVISOR]


def test_a_clinician_is_not_assigned_twice(app: SubjectsApplication, pseudonym: str) -> None:
    app.assign_clinician(pseudonym, CLINICIAN, set())
    with pytest.raises(RuleViolation) as caught:
        app.assign_clinician(pseudonym, CLINICIAN, set())
    assert caught.value.rule == "clinician_already_assigned"
    assert app.get(pseudonym).clinicians == [CLINICIAN]


def test_a_clinician_is_removed(app: SubjectsApplication, pseudonym: str) -> None:
    app.assign_clinician(pseudonym, CLINICIAN, set())
    app.remove_clinician(pseudonym, CLINICIAN)
    assert app.get(pseudonym).clinicians == []


def test_removing_a_clinician_not_assigned_is_refused(
    app: SubjectsApplication, pseudonym: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        app.remove_clinician(pseudonym, CLINICIAN)
    assert caught.value.rule == "clinician_not_assigned"


# Labels ----------------------------------------------------------------------------------


def test_program_labels_are_added(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_labels(pseudonym, ["PSY", "ETH"])
    assert app.get(pseudonym).labels[2:] == [
        {"system": ACT_CODE_SYSTEM, "code": "PSY"},
        {"system": ACT_CODE_SYSTEM, "code": "ETH"},
    ]


def test_only_new_labels_are_added(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_labels(pseudonym, ["PSY"])
    app.add_labels(pseudonym, ["PSY", "SUD"])
    assert [lb["code"] for lb in app.get(pseudonym).labels] == ["R", "EMP", "PSY", "SUD"]


def test_adding_only_present_labels_is_refused(app: SubjectsApplication, pseudonym: str) -> None:
    app.add_labels(pseudonym, ["PSY"])
    with pytest.raises(RuleViolation) as caught:
        app.add_labels(pseudonym, ["PSY"])
    assert caught.value.rule == "labels_already_present"


def test_an_unknown_program_label_is_refused(app: SubjectsApplication, pseudonym: str) -> None:
    with pytest.raises(InvalidInput, match="unknown program label"):
        app.add_labels(pseudonym, ["EMP"])


def test_confidentiality_is_changed(app: SubjectsApplication, pseudonym: str) -> None:
    app.set_confidentiality(pseudonym, "V")
    subject = app.get(pseudonym)
    assert subject.confidentiality == "V"
    assert subject.labels[0] == {"system": CONFIDENTIALITY_SYSTEM, "code": "V"}


def test_setting_the_same_confidentiality_is_refused(
    app: SubjectsApplication, pseudonym: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        app.set_confidentiality(pseudonym, "R")
    assert caught.value.rule == "confidentiality_unchanged"


def test_an_unknown_confidentiality_is_refused(app: SubjectsApplication, pseudonym: str) -> None:
    with pytest.raises(InvalidInput):
        app.set_confidentiality(pseudonym, "N")
