"""The charts context's application service: open, write, close, reopen and replay
the chart of a sequestered subject, addressed by pseudonym.

Who may read or write a chart (grants, deny rules, audit) is decided by the caller
before it gets here; this service enforces the charting rules themselves.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from datetime import date, datetime
from uuid import UUID, uuid4

from eventsourcing.domain import AggregateEvent

from domain.base import ContextApplication
from domain.charts.aggregate import Chart, chart_uuid, check_pseudonym
from domain.errors import AlreadyExists, ConcurrencyConflict, InvalidInput, NotFound

APPEND_ATTEMPTS = 10
#: Appends to one chart from one process take turns (a lock per stripe of charts), so
#: retries are needed only against other processes: with many writers on one chart,
#: optimistic retries alone ran out and answered 409 to writes that commute.
APPEND_LOCK_STRIPES = 64


class ChartsApplication(ContextApplication):
    name = "charts"
    _append_locks = tuple(threading.Lock() for _ in range(APPEND_LOCK_STRIPES))

    def open(self, pseudonym: str, subject_id: UUID, opened_on: date) -> int:
        """Open the subject's one chart; a closed chart is reopened, not opened again."""
        check_pseudonym(pseudonym)
        if self.exists(pseudonym):
            raise AlreadyExists(
                f"chart {pseudonym} already exists; reopen it instead if it is closed"
            )
        return self.commit(Chart.open(pseudonym, subject_id, opened_on))

    def exists(self, pseudonym: str) -> bool:
        return self.recorder.select_events(chart_uuid(pseudonym), limit=1) != []

    def get(self, pseudonym: str, version: int | None = None) -> Chart:
        check_pseudonym(pseudonym)
        chart: Chart = self.load(chart_uuid(pseudonym), f"chart {pseudonym}", version)
        return chart

    def current(self, pseudonym: str) -> Chart:
        """The chart as it stands now, for reading only: never change the result
        (see `current_many`)."""
        check_pseudonym(pseudonym)
        chart = self.current_many(chart_uuid(pseudonym)).get(chart_uuid(pseudonym))
        if chart is None:
            raise NotFound(f"chart {pseudonym} does not exist")
        return chart  # type: ignore[no-any-return]

    def to_change(self, pseudonym: str) -> Chart:
        """The current chart as a copy of its own, to change and commit: only the events
        since it was last read are decoded (a long chart is not replayed per write)."""
        return copy.deepcopy(self.current(pseudonym))

    def add_entry(
        self,
        pseudonym: str,
        author: str,
        author_charts: bool,
        activity_type: str,
        service_code: str | None,
        service_date: date,
        note: str,
        recorded_at: datetime,
        corrects: UUID | None = None,
    ) -> tuple[UUID, int]:
        """Append an entry; `author_charts` says whether the author's job title charts.

        Appends commute, so one that loses a race with another writer of the same chart
        is re-applied to the newer chart (its rules checked again) rather than refused.
        Returns the new entry's id and the log position.
        """
        entry_id = uuid4()
        with self._append_locks[hash(pseudonym) % APPEND_LOCK_STRIPES]:
            return entry_id, self._append(pseudonym, entry_id, author, author_charts,
                                          activity_type, service_code, service_date, note,
                                          recorded_at, corrects)

    def _append(self, pseudonym: str, entry_id: UUID, author: str, author_charts: bool,
                activity_type: str, service_code: str | None, service_date: date, note: str,
                recorded_at: datetime, corrects: UUID | None) -> int:
        for attempt in range(APPEND_ATTEMPTS):
            chart = self.to_change(pseudonym)
            chart.record_entry(
                entry_id, author, author_charts, activity_type, service_code, service_date,
                note, recorded_at, corrects,
            )
            try:
                return self.commit(chart)
            except ConcurrencyConflict:
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.004 * (attempt + 1)))  # spread the retries
        raise AssertionError("unreachable")

    def close_chart(self, pseudonym: str, closed_on: date, by: str) -> int:
        """Close the chart (not named `close`: that is the Application's own shutdown)."""
        chart = self.to_change(pseudonym)
        chart.close(closed_on, by)
        return self.commit(chart)

    def reopen(self, pseudonym: str, reopened_on: date, by: str, reason: str) -> int:
        chart = self.to_change(pseudonym)
        chart.reopen(reopened_on, by, reason)
        return self.commit(chart)

    def as_of(self, pseudonym: str, when: datetime) -> Chart:
        """The chart as it was at `when`: its events recorded at or before that time."""
        if not isinstance(when, datetime) or when.utcoffset() is None:
            raise InvalidInput("the as-of time must be a timezone-aware datetime")
        version = self.version_at(pseudonym, when)
        if version is None:
            raise NotFound(f"chart {pseudonym} did not exist at {when.isoformat()}")
        return self.get(pseudonym, version=version)

    def version_at(self, pseudonym: str, when: datetime) -> int | None:
        """The chart's last version whose event is timestamped at or before `when`."""
        check_pseudonym(pseudonym)
        if not self.exists(pseudonym):
            raise NotFound(f"chart {pseudonym} does not exist")
        version: int | None = None
        for domain_event in self.events.get(chart_uuid(pseudonym)):
            if not isinstance(domain_event, AggregateEvent) or domain_event.timestamp > when:
                break
            version = domain_event.originator_version
        return version
