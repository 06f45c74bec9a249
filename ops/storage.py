"""Recorders that write, in the events' own transaction, what must commit with them.

The library's recorders call `_insert_events(cursor, …)` inside the write
transaction (on PostgreSQL, in the same pipeline that takes the table lock). New data
keys are written there, so no event is ever stored under a key that is not.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, cast
from uuid import UUID

from eventsourcing import persistence
from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.errors import DuplicateObject
from psycopg.sql import SQL, Composable, Identifier

from ops.keys.keyring import write_pending_keys
from ops.ledger import Ledger
from ops.sqltext import serialize_ddl


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

    def select_events_from(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        """Each aggregate's events from its given version on, in one query, by aggregate
        then version (version 0: every event)."""
        if not versions:
            return []
        where = " OR ".join(["(originator_id = ? AND originator_version >= ?)"] * len(versions))
        statement = (
            f"SELECT * FROM {self.events_table_name} WHERE {where} "
            "ORDER BY originator_id, originator_version"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [v for i, n in versions.items() for v in (i.hex, n)])
            return [
                StoredEvent(
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]


#: While the database is unreachable, how long a request waits for a connection (not
#: the pool's full timeout), and how long the pool keeps one reconnection attempt's
#: back-off going before starting afresh (so it retries at least that often).
UNREACHABLE_WAIT_SECONDS = 0.5
RECONNECT_WINDOW_SECONDS = 10.0
RETRY_ATTEMPTS, RETRY_WAIT_SECONDS = 10, 0.2  # the library's own retry policy
_DATABASE_ERRORS = (persistence.InterfaceError, persistence.OperationalError)


class DatabaseUnreachable(persistence.OperationalError):
    """No connection came in time, or the connection broke in use (so a write's commit is
    in doubt). Not retried; the API answers 503 Unavailable."""


class FailFastDatastore(PostgresDatastore):
    """Once the database is unreachable, later requests wait only briefly for a
    connection, so an outage is answered with 503 promptly rather than after the full
    wait per query; the first connection that works restores the full wait."""

    full_wait: float

    @classmethod
    def adopt(cls, datastore: PostgresDatastore) -> None:
        """The library's factory builds the datastore and offers no hook for its class."""
        if not isinstance(datastore, cls):
            datastore.__class__ = cls
            datastore = cast(FailFastDatastore, datastore)
            datastore.full_wait = datastore.pool.timeout
            datastore.pool.reconnect_timeout = RECONNECT_WINDOW_SECONDS
            if isinstance(datastore.pool.kwargs, dict):
                # a blackholed host: bounded too
                datastore.pool.kwargs["connect_timeout"] = max(1, round(datastore.full_wait))
                # No JIT: once a table is large, the planner's estimates for the decision's
                # lateral look-ups pass jit_above_cost, and compiling cost ~6 ms on every
                # execution of a query that runs in a tenth of that.
                datastore.pool.kwargs["options"] = "-c jit=off"

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        conn = None
        try:
            with super().get_connection() as conn:
                self.pool.timeout = self.full_wait
                yield conn
        except _DATABASE_ERRORS as e:
            if isinstance(e, DatabaseUnreachable) or not (conn is None or conn.broken):
                raise
            self.pool.timeout = UNREACHABLE_WAIT_SECONDS
            raise DatabaseUnreachable(str(e)) from e


def _retried(method: Any) -> Any:
    """Retried as the library does on an operational error (an aborted pipeline, a
    deadlock), except when the database is unreachable: each retry would wait for a
    connection again, and a write whose connection broke may have committed, so its
    retry would report a conflict for a write that was stored."""
    inner = inspect.unwrap(method)

    @functools.wraps(inner)
    def retried(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return inner(*args, **kwargs)
            except DatabaseUnreachable:
                raise
            except _DATABASE_ERRORS:
                if attempt == RETRY_ATTEMPTS:
                    raise
                time.sleep(RETRY_WAIT_SECONDS)
        raise AssertionError("unreachable")

    return retried


class PostgresRecorder(PostgresApplicationRecorder):
    ledger: Ledger | None = None

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        FailFastDatastore.adopt(datastore)
        super().__init__(datastore, **kwargs)
        # The library sends a batch as one array of a composite type, which psycopg
        # writes out as text, escaping every payload byte with a regular expression
        # (~60 us an event: more than encrypting it). Four plain arrays sent in binary
        # insert the same rows in the same order, and return their ids in it.
        # Every statement of the insert is rendered once: composing one per execution
        # cost more than its round trip's share of a batch.
        self.insert_rows_statement = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(Identifier(datastore.schema), Identifier(self.events_table_name)).as_bytes(None)
        self.lock_table_statements = [s.as_bytes(None) if isinstance(s, Composable) else s
                                      for s in self.lock_table_statements]
        # One index range per aggregate: as a plain join the planner may hash the
        # whole table; the inner ORDER BY keeps the subquery from being flattened.
        self.select_from_statement = SQL(
            "SELECT e.* FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, v) CROSS JOIN LATERAL "
            "(SELECT * FROM {}.{} WHERE originator_id = k.id AND originator_version >= k.v "
            "ORDER BY originator_version) AS e ORDER BY e.originator_id, e.originator_version"
        ).format(Identifier(datastore.schema), Identifier(self.events_table_name)).as_bytes(None)

    insert_events = _retried(PostgresApplicationRecorder.insert_events)
    select_events = _retried(PostgresApplicationRecorder.select_events)
    select_notifications = _retried(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _retried(PostgresApplicationRecorder.max_notification_id)

    def create_table(self) -> None:
        """The library's, with each of its DDL transactions taking turns with other
        processes' (`serialize_ddl`): its own guard lets a concurrent CREATE TYPE through."""
        schema = self.datastore.schema
        for statement in self.sql_create_statements:
            if "CREATE TYPE" in statement.as_string():  # no IF NOT EXISTS for types
                with self.datastore.transaction(commit=True) as curs, suppress(DuplicateObject):
                    serialize_ddl(curs, postgres=True, schema=schema)
                    curs.execute(statement, prepare=False)
        with self.datastore.transaction(commit=True) as curs:
            serialize_ddl(curs, postgres=True, schema=schema)
            self._create_table(curs)
        self.datastore.register_type_adapters()

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        write_pending_keys(curs)
        super()._insert_events(curs, stored_events, **kwargs)

    def _notify_channel(self, curs: Any) -> None:
        """Nothing: no process here LISTENs (the projection worker polls), and a NOTIFY
        still queues a notification in the server at every commit."""

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's (table lock, insert), with the insert's rows as arrays."""
        self._lock_table(curs)
        curs.execute(self.insert_rows_statement, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Runs under the table lock, so leaf indexes follow notification order."""
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if self.ledger is not None:
            self.ledger.append_with(curs, ids, stored_events)
        return ids

    @_retried
    def select_events_from(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        """Each aggregate's events from its given version on, in one query, by aggregate
        then version (version 0: every event)."""
        if not versions:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            # array literals: psycopg's list dumper cost more than the query
            curs.execute(self.select_from_statement, ["{" + ",".join(map(str, versions)) + "}",
                                     "{" + ",".join(map(str, versions.values())) + "}"],
                         prepare=True)
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

    def select_events_from(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        return [e for i, n in versions.items() for e in self.select_events(i, gt=n - 1)]


RECORDER_TOPICS = {
    "eventsourcing.sqlite": "ops.storage:SQLiteRecorder",
    "eventsourcing.postgres": "ops.storage:PostgresRecorder",
}
