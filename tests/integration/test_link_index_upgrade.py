"""A log begun before staff link indexes existed (employee-clients enrolled without
one) is brought up to date when the service starts: the link-based rules see those
subjects again, and a second employee subject for the same person is refused."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import AlreadyExists
from domain.subjects import SubjectsApplication
from domain.subjects.identity import IdentityRecord, SubjectIndex
from domain.subjects.pseudonym import new_pseudonym
from domain.subjects.subject import Subject, labels_for
from ops.bootstrap import System, build

STAFF = "staff-UPGRADE-1"
GROUP = "grp-UPGRADE-GROUP"
DAY = date(2024, 5, 1)


def enrol_without_link_index(app: SubjectsApplication, name: str, pseudonym: str) -> str:
    """What enrolment committed before link indexes: subject, identity and subject index."""
    index = app._index() if app.list_pseudonyms() else SubjectIndex()  # an unmarked index
    subject = Subject.enrol(
        pseudonym, "employee", labels_for("employee", ["PSY"], "R"), app.link_of(STAFF), DAY
    )
    identity = IdentityRecord(pseudonym=pseudonym, subject_id=subject.id, legal_name=name,
                              birth_date=date(1980, 1, 1), staff_id=STAFF)
    index.add(pseudonym)
    app.commit(subject, identity, index)
    return pseudonym


def test_a_start_indexes_the_links_of_an_older_log(backend: str, settings_for) -> None:  # type: ignore[no-untyped-def]
    old = build(settings_for(backend))
    pseudonym = enrol_without_link_index(old.subjects, "Ottoline Vantongeren", new_pseudonym())
    old.subjects.add_group(pseudonym, GROUP, DAY)
    other, _ = old.subjects.enrol("Someone Else", date(1970, 1, 1), "public_figure",
                                  program_labels=["PSY"], enrolled_on=DAY)
    old.subjects.add_group(other, GROUP, DAY)
    assert old.subjects.subjects_linked_to(STAFF) == []  # the gap the upgrade closes
    old.close()

    system: System = build(settings_for(backend))  # the service starting after the upgrade
    try:
        assert [s.pseudonym for s in system.subjects.subjects_linked_to(STAFF)] == [pseudonym]
        links = system.chart_access.links(STAFF, other)
        assert GROUP in {g.group_id for g in links.principal_client_groups}
        with pytest.raises(AlreadyExists):
            system.subjects.enrol("Ottoline Vantongeren", date(1980, 1, 1), "employee", STAFF,
                                  program_labels=["PSY"], enrolled_on=DAY)
        assert system.subjects.index_links() == 0  # done once; the mark is in the log
    finally:
        system.close()


def test_a_new_log_needs_no_upgrade(system: System) -> None:
    pseudonym, _ = system.subjects.enrol("Ada Newlog", date(1980, 1, 1), "employee", STAFF,
                                         program_labels=["PSY"], enrolled_on=DAY)
    assert system.subjects._index().links_indexed
    assert system.subjects.index_links() == 0
    assert [s.pseudonym for s in system.subjects.subjects_linked_to(STAFF)] == [pseudonym]
