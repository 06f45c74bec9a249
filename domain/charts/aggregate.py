"""The chart of one sequestered subject, kept under the subject's pseudonym.

Entries are appended, never edited: a correction is a new entry naming the entry it
corrects, so the record shows what was written, when and by whom. A chart opens,
closes and reopens; each closing date is kept because it drives the dual-relationship
two-year rule. Events are encrypted under the subject's data key, so shredding the
subject's keys makes the chart unreadable.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ID_CACHE_SIZE, ProtectedAggregate
from domain.charts.activities import check_activity_type, check_service_code
from domain.errors import AlreadyExists, InvalidInput, RuleViolation

CHART_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:chart")
MAX_NOTE_CHARS = 20_000
OPEN = "open"
CLOSED = "closed"


@lru_cache(maxsize=ID_CACHE_SIZE)
def chart_uuid(pseudonym: str) -> UUID:
    """The aggregate id of a subject's chart: one chart per pseudonym."""
    return uuid5(CHART_NAMESPACE, pseudonym)


def check_pseudonym(pseudonym: str) -> str:
    if not isinstance(pseudonym, str) or not pseudonym.strip():
        raise InvalidInput("the pseudonym must not be blank")
    return pseudonym


def _require_staff_id(staff_id: str, what: str) -> None:
    if not isinstance(staff_id, str) or not staff_id.strip():
        raise InvalidInput(f"{what} must be a staff id and must not be blank")


@dataclass(frozen=True)
class ChartEntry:
    """One appended entry. The note is sensitive: it is kept out of the repr."""

    entry_id: UUID
    author: str
    activity_type: str
    service_code: str | None
    service_date: date
    note: str = field(repr=False)
    recorded_at: datetime
    corrects: UUID | None


class Chart(ProtectedAggregate):
    """A sequestered subject's chart; its data subject is the subject, not the chart."""

    @staticmethod
    def create_id(pseudonym: str, **_: Any) -> UUID:
        return chart_uuid(pseudonym)

    @event("Opened")
    def __init__(self, pseudonym: str, subject_id: UUID, opened_on: date) -> None:
        self.pseudonym = pseudonym
        self.subject_id = subject_id
        self.opened_on = opened_on
        self.status = OPEN
        self.entries: list[ChartEntry] = []
        self.closures: list[dict[str, Any]] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> Chart:
        """A copy to change: entries are frozen, so the copy shares them and copies only
        what a change alters (the lists, each closure). A chart read for a write is a
        copy of the decoded one; copying every entry cost as much as decoding it."""
        twin = copy.copy(self)
        twin.entries = list(self.entries)
        twin.closures = [dict(c) for c in self.closures]
        twin._pending_events = list(self._pending_events)
        return twin

    @classmethod
    def open(cls, pseudonym: str, subject_id: UUID, opened_on: date) -> Chart:
        check_pseudonym(pseudonym)
        if not isinstance(subject_id, UUID):
            raise InvalidInput("the subject id must be the subject's UUID")
        if not isinstance(opened_on, date) or isinstance(opened_on, datetime):
            raise InvalidInput("the opening date must be a date")
        return cls(pseudonym, subject_id, opened_on)

    @property
    def data_subject_id(self) -> UUID:
        return self.subject_id

    @property
    def closed_on(self) -> date | None:
        """The date the chart closed, while it is closed (None while open)."""
        return self.closures[-1]["closed_on"] if self.status == CLOSED else None

    @property
    def last_service_date(self) -> date | None:
        return max((e.service_date for e in self.entries), default=None)

    def entry(self, entry_id: UUID) -> ChartEntry | None:
        return next((e for e in self.entries if e.entry_id == entry_id), None)

    def current_entries(self) -> list[ChartEntry]:
        """Entries that no later entry corrects, in the order they were recorded."""
        superseded = {e.corrects for e in self.entries if e.corrects is not None}
        return [e for e in self.entries if e.entry_id not in superseded]

    def corrections_of(self, entry_id: UUID) -> list[ChartEntry]:
        return [e for e in self.entries if e.corrects == entry_id]

    # -- entries -------------------------------------------------------------------

    def record_entry(
        self,
        entry_id: UUID,
        author: str,
        author_charts: bool,
        activity_type: str,
        service_code: str | None,
        service_date: date,
        note: str,
        recorded_at: datetime,
        corrects: UUID | None = None,
    ) -> None:
        """Append an entry after checking every charting rule; the note is never echoed."""
        self._require_open("record an entry")
        _require_staff_id(author, "the author")
        if not author_charts:
            raise RuleViolation(
                "title_does_not_chart",
                f"staff member {author} holds a job title that does not chart, so may not "
                "author chart entries [Confidentiality I.B]",
            )
        activity = check_activity_type(activity_type)
        code = check_service_code(service_code)
        self._check_timing(service_date, recorded_at)
        _check_note(note)
        self._check_entry_ids(entry_id, corrects)
        self._record_entry(
            entry_id, author, activity, code, service_date, note, recorded_at, corrects
        )

    def _check_timing(self, service_date: date, recorded_at: datetime) -> None:
        if not isinstance(recorded_at, datetime) or recorded_at.utcoffset() is None:
            raise InvalidInput("the recording time must be a timezone-aware datetime")
        if not isinstance(service_date, date) or isinstance(service_date, datetime):
            raise InvalidInput("the service date must be a date")
        if service_date > recorded_at.date():
            raise InvalidInput(
                f"the service date {service_date} is after the recording date "
                f"{recorded_at.date()}; a service is charted once it has happened"
            )
        if service_date < self.opened_on:
            raise InvalidInput(
                f"the service date {service_date} is before chart {self.pseudonym} "
                f"was opened on {self.opened_on}"
            )

    def _check_entry_ids(self, entry_id: UUID, corrects: UUID | None) -> None:
        if not isinstance(entry_id, UUID):
            raise InvalidInput("the entry id must be a UUID")
        if self.entry(entry_id) is not None:
            raise AlreadyExists(f"entry {entry_id} already exists in chart {self.pseudonym}")
        if corrects is not None and (
            not isinstance(corrects, UUID) or self.entry(corrects) is None
        ):
            raise InvalidInput(
                f"the corrected entry {corrects} is not an entry of chart {self.pseudonym}; "
                "a correction must refer to an earlier entry of the same chart"
            )

    @event("EntryRecorded")
    def _record_entry(
        self,
        entry_id: UUID,
        author: str,
        activity_type: str,
        service_code: str | None,
        service_date: date,
        note: str,
        recorded_at: datetime,
        corrects: UUID | None,
    ) -> None:
        self.entries.append(
            ChartEntry(
                entry_id,
                author,
                activity_type,
                service_code,
                service_date,
                note,
                recorded_at,
                corrects,
            )
        )

    # -- closing and reopening -------------------------------------------------------

    def _require_open(self, action: str) -> None:
        if self.status == CLOSED:
            raise RuleViolation(
                "chart_closed",
                f"chart {self.pseudonym} closed on {self.closed_on}; reopen it to {action}",
            )

    def close(self, closed_on: date, by: str) -> None:
        """Close the chart; the date must not precede its opening, any reopening or service."""
        if self.status == CLOSED:
            raise RuleViolation(
                "chart_already_closed",
                f"chart {self.pseudonym} is already closed (since {self.closed_on})",
            )
        _require_staff_id(by, "who closes the chart")
        if not isinstance(closed_on, date) or isinstance(closed_on, datetime):
            raise InvalidInput("the closing date must be a date")
        earliest, reason = self._earliest_closing()
        if closed_on < earliest:
            raise InvalidInput(
                f"chart {self.pseudonym} cannot close on {closed_on}, before {reason} {earliest}"
            )
        self._close(closed_on, by)

    def _earliest_closing(self) -> tuple[date, str]:
        candidates = [(self.opened_on, "its opening on")]
        if self.closures:
            candidates.append((self.closures[-1]["reopened_on"], "its reopening on"))
        if self.last_service_date is not None:
            candidates.append((self.last_service_date, "its last service date"))
        return max(candidates, key=lambda c: c[0])

    @event("Closed")
    def _close(self, closed_on: date, by: str) -> None:
        self.status = CLOSED
        self.closures.append(
            {
                "closed_on": closed_on,
                "closed_by": by,
                "reopened_on": None,
                "reopened_by": None,
                "reopen_reason": None,
            }
        )

    def reopen(self, reopened_on: date, by: str, reason: str) -> None:
        """Reopen a closed chart; the closure stays in `closures` with its reopening."""
        if self.status != CLOSED:
            raise RuleViolation("chart_not_closed", f"chart {self.pseudonym} is already open")
        _require_staff_id(by, "who reopens the chart")
        if not isinstance(reopened_on, date) or isinstance(reopened_on, datetime):
            raise InvalidInput("the reopening date must be a date")
        if reopened_on < self.closures[-1]["closed_on"]:
            raise InvalidInput(
                f"chart {self.pseudonym} cannot reopen on {reopened_on}, before it closed "
                f"on {self.closures[-1]['closed_on']}"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a reason for reopening the chart is required")
        self._reopen(reopened_on, by, reason)

    @event("Reopened")
    def _reopen(self, reopened_on: date, by: str, reason: str) -> None:
        self.status = OPEN
        self.closures[-1].update(
            {"reopened_on": reopened_on, "reopened_by": by, "reopen_reason": reason}
        )


def _check_note(note: str) -> None:
    if not isinstance(note, str) or not note.strip():
        raise InvalidInput("the note must not be blank")
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(
            f"the note is {len(note)} characters long; at most {MAX_NOTE_CHARS} are allowed"
        )
