"""Reading the shared log for the projection runner, in bulk.

`LogReader.read` runs the query of the recorder's `select_notifications` (same rows,
same order, same bounds) but keeps each row a plain tuple, and on SQLite turns each
originator id into a UUID once per batch (an aggregate's events share it), instead of
building a `Notification` and a UUID per row: at rebuild scale that object work costs
more than reading the rows.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from psycopg import sql
from psycopg.rows import tuple_row

from projections.tables import Db


class Stored(NamedTuple):
    """One stored event and its position: the fields of a `Notification`."""

    id: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes | None  # None: outside a rebuild share's events (see `LogReader`)


class LogReader:
    """The events table of the recorder behind `db` (its datastore and dialect).

    With a `share` (of a parallel rebuild), PostgreSQL sends the payload of that share's
    events only (the others' come back as NULL: their positions still count), so the
    rebuild processes do not each pull the whole log's payloads through the socket."""

    def __init__(self, recorder: Any, db: Db, share: tuple[int, int] | None = None) -> None:
        self.db = db
        dialect = db.dialect
        self._convert = None if dialect.postgres else recorder.convert_originator_id
        position = sql.Identifier("notification_id" if dialect.postgres else "rowid")
        state = "state"
        if share is not None and dialect.postgres:  # the last byte of the id, as `Partition`
            state = (f"CASE WHEN mod(get_byte(uuid_send(originator_id), 15), {int(share[1])}) "
                     f"= {int(share[0])} THEN state END")
        select = (
            "SELECT {id}, originator_id, originator_version, topic, " + state + " FROM {t} "
            "WHERE {id} >= %s"
        )
        parts = {"id": position, "t": dialect.ident(recorder.events_table_name)}
        order = " ORDER BY {id} LIMIT %s"
        self._open = dialect.compose(select + order, **parts)
        self._bounded = dialect.compose(select + " AND {id} <= %s" + order, **parts)

    def read(self, start: int, limit: int, stop: int | None = None) -> list[Stored]:
        """Up to `limit` events from position `start` (inclusive) to `stop`, in order."""
        params: tuple[int, ...]
        if stop is None:
            statement, params = self._open, (start, limit)
        else:
            statement, params = self._bounded, (start, stop, limit)
        with self.db.read() as tx:
            cursor = tx.cursor
            if self.db.dialect.postgres:  # binary: no hex-decoding of every payload
                cursor.row_factory = tuple_row
                cursor.execute(statement, params, binary=True)
            else:
                cursor.row_factory = None
                cursor.execute(statement, params)
            rows = cursor.fetchall()
        convert, ids = self._convert, dict[Any, Any]()
        return [
            Stored(
                position,
                oid if convert is None else ids.get(oid) or ids.setdefault(oid, convert(oid)),
                version,
                topic,
                state if type(state) is bytes or state is None else bytes(state),
            )
            for position, oid, version, topic, state in rows
        ]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Bulk catch-up allocates many objects that all live until their batch commits and
    hold no reference cycles; the cyclic collector would walk them again and again for
    nothing. Paused for the duration (reference counting still frees everything),
    restored after, as it was found."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
