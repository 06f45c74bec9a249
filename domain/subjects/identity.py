"""The Director's office directory [seed: Confidentiality II.B]: who a pseudonym is,
and which pseudonyms were issued.

`IdentityRecord` is the only place a legal name, a birth date and the staff id of an
employee-client are written. Its events are encrypted under the Director's-office
key and its data subject is the subject, so shredding the subject shreds its name.
`SubjectIndex` lists issued pseudonyms (no names, no links): it lets the application
find every subject and refuse a colliding pseudonym.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ID_CACHE_SIZE, KEK_DIRECTOR, KEK_EVENTS, ProtectedAggregate
from domain.errors import AlreadyExists

IDENTITY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:identity")
SUBJECT_INDEX_ID = uuid5(NAMESPACE_URL, "urn:sequester:subject-index")


def identity_uuid(pseudonym: str) -> UUID:
    return uuid5(IDENTITY_NAMESPACE, pseudonym)


class IdentityRecord(ProtectedAggregate):
    """The legal identity behind one pseudonym, readable only with the Director's key."""

    kek = KEK_DIRECTOR

    @staticmethod
    def create_id(pseudonym: str, **_: Any) -> UUID:
        return identity_uuid(pseudonym)

    @event("Recorded")
    def __init__(
        self,
        pseudonym: str,
        subject_id: UUID,
        legal_name: str,
        birth_date: date,
        staff_id: str | None,
    ) -> None:
        self.pseudonym = pseudonym
        self.subject_id = subject_id
        self.legal_name = legal_name
        self.birth_date = birth_date
        self.staff_id = staff_id

    @property
    def data_subject_id(self) -> UUID:
        """The subject: its shredding destroys this record's key too."""
        return self.subject_id

    def __repr__(self) -> str:
        # The default repr lists every attribute; this one must never reach a log.
        return f"IdentityRecord(pseudonym={self.pseudonym!r}, version={self.version})"


class SubjectIndex(ProtectedAggregate):
    """Every pseudonym issued, in order (one per agency: a singleton)."""

    kek = KEK_EVENTS
    #: Whether every linked subject is in its staff member's `StaffLinkIndex`: true from
    #: the start in a log begun with link indexes; an older log is brought up to date
    #: once by `SubjectsApplication.index_links`.
    links_indexed = False

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return SUBJECT_INDEX_ID

    @event("Started")
    def __init__(self) -> None:
        self.pseudonyms: list[str] = []

    def __contains__(self, pseudonym: object) -> bool:
        return pseudonym in self.pseudonyms

    def add(self, pseudonym: str) -> None:
        if pseudonym in self.pseudonyms:
            raise AlreadyExists(f"pseudonym {pseudonym} is already issued")
        self._add(pseudonym)

    @event("SubjectListed")
    def _add(self, pseudonym: str) -> None:
        self.pseudonyms.append(pseudonym)

    def mark_links_indexed(self) -> None:
        if not self.links_indexed:
            self._links_indexed()

    @event("LinksIndexed")
    def _links_indexed(self) -> None:
        self.links_indexed = True


LINK_INDEX_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:staff-link-index")


@lru_cache(maxsize=ID_CACHE_SIZE)
def link_index_uuid(link: str) -> UUID:
    return uuid5(LINK_INDEX_NAMESPACE, link)


class StaffLinkIndex(ProtectedAggregate):
    """The pseudonyms linked to one staff member, found by the keyed hash that stands for
    it (never the staff id): the link-based access rules read this one record instead of
    every subject. Under the Director's-office key, like every other link fact."""

    kek = KEK_DIRECTOR

    @staticmethod
    def create_id(link: str, **_: Any) -> UUID:
        return link_index_uuid(link)

    @event("Started")
    def __init__(self, link: str) -> None:
        self.pseudonyms: list[str] = []

    def add(self, pseudonym: str) -> None:
        if pseudonym not in self.pseudonyms:
            self._add(pseudonym)

    @event("SubjectLinked")
    def _add(self, pseudonym: str) -> None:
        self.pseudonyms.append(pseudonym)
