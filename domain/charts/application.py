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
from collections import OrderedDict
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import AggregateEvent

from domain.base import ContextApplication, Infrastructure
from domain.charts.aggregate import Chart, chart_uuid, check_pseudonym
from domain.errors import ConcurrencyConflict, AlreadyExists, InvalidInput, NotFound


APPEND_ATTEMPTS = 10
#: Appends to one chart from one process take turns (a lock per stripe of charts), so
#: retries are needed only against other processes: with many writers on one chart,
#: optimistic retries alone ran out and answered 409 to writes that commute.
APPEND_LOCK_STRIPES = 64
#: Charts kept decoded per process for reading (least recently read out first).
CURRENT_CHARTS = 256


class ChartsApplication(ContextApplication):
    name = "charts"
    _append_locks = tuple(threading.Lock() for _ in range(APPEND_LOCK_STRIPES))

    def __init__(self, infrastructure: Infrastructure) -> None:
        super().__init__(infrastructure)
        self._current: OrderedDict[UUID, Chart] = OrderedDict()
        self._current_lock = threading.Lock()

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
        """The chart as it stands now, for reading only: never change the result.

        A chart's read would otherwise decrypt and replay every entry it ever had. The
        charts read lately are kept decoded; each read fetches the events from the last
        one it knows and decrypts them, so a chart changed by any process is brought up
        to date, and a chart whose subject was shredded fails as `DataShredded` (its key
        is asked for again) instead of being served from memory.
        """
        check_pseudonym(pseudonym)
        cid = chart_uuid(pseudonym)
        with self._current_lock:
            known: Chart | None = self._current.get(cid)
        if known is None:
            chart = self.get(pseudonym)
        else:
            news = [self.mapper.to_domain_event(s)
                    for s in self.recorder.select_events(cid, gt=known.version - 1)]
            if not news or news[0].originator_version != known.version:
                chart = self.get(pseudonym)  # the log no longer holds what was read
            elif len(news) == 1:
                chart = known
            else:
                chart = self._brought_up_to_date(known, news[1:])
        with self._current_lock:
            self._current[cid] = chart
            self._current.move_to_end(cid)
            while len(self._current) > CURRENT_CHARTS:
                self._current.popitem(last=False)
        return chart

    @staticmethod
    def _brought_up_to_date(known: Chart, news: list[Any]) -> Chart:
        chart: Any = copy.deepcopy(known)  # readers may hold the one they were given
        for event in news:
            chart = event.mutate(chart)
        return chart  # type: ignore[no-any-return]

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
            chart = self.get(pseudonym)
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
        chart = self.get(pseudonym)
        chart.close(closed_on, by)
        return self.commit(chart)

    def reopen(self, pseudonym: str, reopened_on: date, by: str, reason: str) -> int:
        chart = self.get(pseudonym)
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
