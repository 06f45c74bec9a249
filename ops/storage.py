"""Recorders that write, in the events' own transaction, what must commit with them.

The library's recorders call `_insert_events(cursor, …)` inside the write
transaction (on PostgreSQL, in the same pipeline that takes the table lock). New data
keys are written there, so no event is ever stored under a key that is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg.errors import InterfaceError, OperationalError
from psycopg.sql import SQL, Identifier

from ops.keys.keyring import write_pending_keys
from ops.ledger import Ledger


class SQLiteRecorder(SQLiteApplicationRecorder):
    ledger: Ledger | None = None

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        write_pending_keys(c)
        ids = super()._insert_events(c, stored_events, **kwargs)
        if self.ledger is not None:
            self.ledger.append_with(c, ids, stored_events)
        return ids

    def select_events_many(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of several aggregates in one query, by aggregate then version."""
        if not originator_ids:
            return []
        marks = ",".join("?" * len(originator_ids))
        statement = (
            f"SELECT * FROM {self.events_table_name} WHERE originator_id IN ({marks}) "
            "ORDER BY originator_id, originator_version"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [i.hex for i in originator_ids])
            return [
                StoredEvent(
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]


class PostgresRecorder(PostgresApplicationRecorder):
    ledger: Ledger | None = None

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        write_pending_keys(curs)
        super()._insert_events(curs, stored_events, **kwargs)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Runs under the table lock, so leaf indexes follow notification order."""
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if self.ledger is not None:
            self.ledger.append_with(curs, ids, stored_events)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_many(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of several aggregates in one query, by aggregate then version."""
        if not originator_ids:
            return []
        statement = SQL(
            "SELECT * FROM {}.{} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [list(originator_ids)], prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class MemoryRecorder(POPOApplicationRecorder):
    """In memory (unit tests): keys are checked and written under the same lock."""

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self._database_lock:
            self._assert_uniqueness(stored_events, **kwargs)
            write_pending_keys(None)
            return self._update_table(stored_events, **kwargs)

    def select_events_many(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        return [e for i in originator_ids for e in self.select_events(i)]


RECORDER_TOPICS = {
    "eventsourcing.sqlite": "ops.storage:SQLiteRecorder",
    "eventsourcing.postgres": "ops.storage:PostgresRecorder",
}
