"""The sequestered-subjects context: enrolment under a pseudonym, the Director's
office directory, group participation, clinicians and labels.

The staff↔client link is compared only as a keyed hash (`link_hasher`, an HMAC under
the Director's key supplied by ops), so no event outside the identity record, and no
error, tells which staff member is a client (DESIGN §3 item 6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from domain.base import ContextApplication, Infrastructure
from domain.dates import PLANNED_AHEAD, plausible_day
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DataShredded,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from domain.subjects.identity import (
    SUBJECT_INDEX_ID,
    IdentityRecord,
    StaffLinkIndex,
    SubjectIndex,
    identity_uuid,
    link_index_uuid,
)
from domain.subjects.pseudonym import check_pseudonym, new_pseudonym
from domain.subjects.subject import (
    LINKABLE_CATEGORIES,
    Subject,
    check_category,
    check_day,
    check_text,
    labels_for,
    subject_uuid,
)

#: How many fresh pseudonyms to draw before giving up (a collision is already ~1e-12).
PSEUDONYM_ATTEMPTS = 5


class SubjectsApplication(ContextApplication):
    name = "subjects"

    def __init__(
        self,
        infrastructure: Infrastructure,
        link_hasher: Callable[[str], str],
        *,
        pseudonyms: Callable[[], str] = new_pseudonym,
    ) -> None:
        super().__init__(infrastructure)
        self._link_hasher = link_hasher
        self._pseudonyms = pseudonyms

    # Enrolment and the directory ------------------------------------------------------

    def enrol(
        self,
        legal_name: str,
        birth_date: date,
        category: str,
        staff_id: str | None = None,
        program_labels: Iterable[str] = (),
        confidentiality: str = "R",
        *,
        enrolled_on: date,
    ) -> tuple[str, int]:
        """Enrol a person; return its new pseudonym and the log position.

        The subject, its identity record and the index entry commit together. Two
        enrolments at once conflict on the index: the loser retries once."""
        legal_name = check_text(legal_name, "legal_name")
        enrolled_on = plausible_day(check_day(enrolled_on, "enrolled_on"), "enrolled_on")
        self._check_birth_date(birth_date, enrolled_on)
        labels = labels_for(category, program_labels, confidentiality)
        staff_id = self._check_staff_id(category, staff_id)
        try:
            return self._enrol_once(legal_name, birth_date, category, staff_id, labels, enrolled_on)
        except ConcurrencyConflict:
            return self._enrol_once(legal_name, birth_date, category, staff_id, labels, enrolled_on)

    @staticmethod
    def _check_birth_date(birth_date: date, enrolled_on: date) -> None:
        check_day(birth_date, "birth_date")
        plausible_day(birth_date, "birth_date", on=enrolled_on)

    def _check_staff_id(self, category: str, staff_id: str | None) -> str | None:
        check_category(category)
        if staff_id is None:
            if category == "employee":
                raise InvalidInput("an employee subject needs the staff_id of the employee")
            return None
        if category not in LINKABLE_CATEGORIES:
            raise InvalidInput(
                f"staff_id is recorded only for categories {list(LINKABLE_CATEGORIES)}"
            )
        return check_text(staff_id, "staff_id", 100)

    def _refuse_second_employee_subject(self, category: str, links: StaffLinkIndex) -> None:
        """A staff member has one chart of its own: refuse a second `employee` subject.
        Checked against the link index version the enrolment commits on, so a concurrent
        enrolment of the same person conflicts instead of slipping through."""
        if category != "employee":
            return
        if any(s.category == "employee" for s in self.linked(links)):
            raise AlreadyExists(
                "the staff member given is already enrolled as an employee subject; "
                "the Director's office can find its pseudonym"
            )

    def _enrol_once(
        self,
        legal_name: str,
        birth_date: date,
        category: str,
        staff_id: str | None,
        labels: list[dict[str, str]],
        enrolled_on: date,
    ) -> tuple[str, int]:
        index = self._index()
        link = None if staff_id is None else self.link_of(staff_id)
        links = None if link is None else self._link_index(link)
        if links is not None:
            self._refuse_second_employee_subject(category, links)
        pseudonym = self._unused_pseudonym(index)
        subject = Subject.enrol(pseudonym, category, labels, link, enrolled_on)
        identity = IdentityRecord(
            pseudonym=pseudonym,
            subject_id=subject.id,
            legal_name=legal_name,
            birth_date=birth_date,
            staff_id=staff_id,
        )
        index.add(pseudonym)
        if links is None:
            return pseudonym, self.commit(subject, identity, index)
        links.add(pseudonym)
        return pseudonym, self.commit(subject, identity, index, links)

    def _index(self) -> SubjectIndex:
        if self.recorder.select_events(SUBJECT_INDEX_ID, limit=1):
            index: SubjectIndex = self.load(SUBJECT_INDEX_ID, "the subject index")
            return index
        index = SubjectIndex()
        index.mark_links_indexed()  # every enrolment from here on writes its link index
        return index

    def index_links(self) -> int:
        """Upgrade step for a log begun before staff link indexes existed: put every
        linked subject in its staff member's index (the link-based access rules and the
        one-employee-subject check read only the index), then mark the subject index so
        this runs once. Idempotent; returns how many pseudonyms it added."""
        for _ in range(3):
            try:
                return self._index_links_once()
            except ConcurrencyConflict:  # another process or an enrolment: read again
                continue
        raise ConcurrencyConflict("could not bring the staff link indexes up to date; retry")

    def _index_links_once(self) -> int:
        index = self._index()
        if index.links_indexed:  # also a log with no subject yet (a new index is marked)
            return 0
        by_link: dict[str, list[str]] = {}
        for pseudonym in index.pseudonyms:
            try:
                subject = self.get(pseudonym)
            except DataShredded:
                continue
            if subject.staff_link is not None:
                by_link.setdefault(subject.staff_link, []).append(pseudonym)
        changed, added = [], 0
        for link, pseudonyms in by_link.items():
            links = self._link_index(link)
            missing = [p for p in pseudonyms if p not in links.pseudonyms]
            for pseudonym in missing:
                links.add(pseudonym)
            if missing:
                changed.append(links)
                added += len(missing)
        index.mark_links_indexed()
        self.commit(*changed, index)  # all of it, or (on a conflict) none of it
        return added

    def _unused_pseudonym(self, index: SubjectIndex) -> str:
        for _ in range(PSEUDONYM_ATTEMPTS):
            pseudonym = check_pseudonym(self._pseudonyms())
            if pseudonym not in index and not self._exists(pseudonym):
                return pseudonym
        raise ConcurrencyConflict("could not draw an unused pseudonym; retry the enrolment")

    def _exists(self, pseudonym: str) -> bool:
        return self.recorder.select_events(subject_uuid(pseudonym), limit=1) != []

    def link_of(self, staff_id: str) -> str:
        """The keyed hash that stands for a staff member in link-based rules."""
        return self._link_hasher(check_text(staff_id, "staff_id", 100))

    def list_pseudonyms(self) -> list[str]:
        """Every pseudonym issued, in enrolment order (shredded ones included)."""
        if not self.recorder.select_events(SUBJECT_INDEX_ID, limit=1):
            return []
        return list(self._index().pseudonyms)

    def get(self, pseudonym: str, version: int | None = None) -> Subject:
        pseudonym = check_pseudonym(pseudonym)
        subject: Subject = self.load(subject_uuid(pseudonym), f"subject {pseudonym}", version)
        return subject

    def identity(self, pseudonym: str) -> IdentityRecord:
        """The identity record itself; callers outside the Director's office use `resolve`."""
        pseudonym = check_pseudonym(pseudonym)
        record: IdentityRecord = self.load(identity_uuid(pseudonym), f"subject {pseudonym}")
        return record

    def resolve(self, pseudonym: str, reason: str, actor_roles: Iterable[str]) -> dict[str, Any]:
        """The legal identity behind a pseudonym: for the Director's office, with a reason
        (the caller records the reason in the audit trail before returning this)."""
        if "director" not in set(actor_roles):
            raise PermissionDenied(
                "director_only", "only the Director's office can resolve a pseudonym"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("resolving a pseudonym needs a reason")
        subject = self.get(pseudonym)
        record = self.identity(subject.pseudonym)
        return {
            "pseudonym": subject.pseudonym,
            "legal_name": record.legal_name,
            "birth_date": record.birth_date,
            "category": subject.category,
        }

    def subjects_linked_to(self, staff_id: str) -> list[Subject]:
        """The subjects linked to a staff member (itself, or a relative); shredded ones
        are skipped. Director's-office use and link-based rules only."""
        return self.linked(self._link_index(self.link_of(staff_id)))

    def _link_index(self, link: str) -> StaffLinkIndex:
        try:
            links: StaffLinkIndex = self.load(link_index_uuid(link), "the staff link index")
        except NotFound:
            return StaffLinkIndex(link=link)
        return links

    def linked(self, links: StaffLinkIndex) -> list[Subject]:
        """The subjects a link index names, shredded ones skipped."""
        linked = []
        for pseudonym in links.pseudonyms:
            try:
                linked.append(self.get(pseudonym))
            except DataShredded:
                continue
        return linked

    # Commands on a subject ------------------------------------------------------------

    def add_group(self, pseudonym: str, group_id: str, from_: date, to: date | None = None) -> int:
        plausible_day(check_day(from_, "from"), "from")
        if to is not None:
            plausible_day(check_day(to, "to"), "to", ahead=PLANNED_AHEAD)
        subject = self.get(pseudonym)
        subject.add_group(group_id, from_, to)
        return self.commit(subject)

    def end_group(self, pseudonym: str, group_id: str, to: date) -> int:
        subject = self.get(pseudonym)
        subject.end_group(group_id, to)
        return self.commit(subject)

    def assign_clinician(
        self, pseudonym: str, staff_id: str, clinician_supervisee_links: set[str]
    ) -> int:
        """Assign a clinician. `clinician_supervisee_links` are the keyed hashes
        (`link_of`) of the staff the candidate supervises, computed by the caller."""
        subject = self.get(pseudonym)
        subject.assign_clinician(staff_id, self.link_of(staff_id), set(clinician_supervisee_links))
        return self.commit(subject)

    def remove_clinician(self, pseudonym: str, staff_id: str) -> int:
        subject = self.get(pseudonym)
        subject.remove_clinician(staff_id)
        return self.commit(subject)

    def add_labels(self, pseudonym: str, program_labels: Iterable[str]) -> int:
        subject = self.get(pseudonym)
        subject.add_program_labels(program_labels)
        return self.commit(subject)

    def set_confidentiality(self, pseudonym: str, confidentiality: str) -> int:
        subject = self.get(pseudonym)
        subject.set_confidentiality(confidentiality)
        return self.commit(subject)
