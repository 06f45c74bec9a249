"""What a read model is: a name, the event topics it reads, its tables, and `apply`.

`apply(batch, tx)` receives every event of one batch that carries one of its topics, in
log order, inside the transaction that also advances its tracking row: whatever it
writes commits with the position, or not at all. Most read models are *folds* (one row
per aggregate, each event turning the old row into the new one): `FoldProjection` does
the batching for them (one read of the touched rows, one write back), so a subclass only
states `fold(row, event)`, which unit tests exercise without a database.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic

from projections.sealing import Seal, Unseal
from projections.tables import Table, Tx

Event = DomainEventProtocol[UUID]
Row = dict[str, Any]


def event_class(aggregate: type, name: str) -> type[Any]:
    """An aggregate's event class by name: `@event` creates them at import time, out of
    the type checker's sight."""
    cls: type[Any] = getattr(aggregate, name)
    return cls


def topics_of(*event_classes: type) -> tuple[str, ...]:
    return tuple(get_topic(cls) for cls in event_classes)


class Projection(ABC):
    """One read model. Instances hold configuration only: the tables (and their prefix)
    come with the transaction, so one instance serves the live and the scratch views."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    events: ClassVar[tuple[type, ...]]

    @property
    def topics(self) -> tuple[str, ...]:
        return topics_of(*self.events)

    @abstractmethod
    def apply(self, batch: Sequence[Event], tx: Tx) -> None:
        """Write what the batch changes, inside the runner's transaction."""

    def forget_subject(self, subject_id: UUID, tx: Tx) -> None:
        """Delete every row about a shredded subject (tables with a `subject_id`)."""
        for table in self.tables:
            if "subject_id" in table.names:
                tx.execute("DELETE FROM {t} WHERE subject_id = %s", (str(subject_id),), t=table)

    def comparable(self, table: Table, row: Row) -> Row:
        """The row as a rebuild must reproduce it (sealed values differ per sealing)."""
        return row


def aggregate_ids(events: Iterable[Event]) -> list[str]:
    """Each event's originator id as text, each aggregate's formatted once (a batch
    holds many events of one aggregate, and `str(UUID)` is not free at rebuild scale)."""
    text: dict[UUID, str] = {}
    return [text.get(i) or text.setdefault(i, str(i)) for i in (e.originator_id for e in events)]


class FoldProjection(Projection):
    """One row per aggregate, folded from its events in log order.

    The columns named in `sealed` are kept as one `body` blob sealed under the row's
    subject's data key (`projections.sealing`), so a database dump without keys shows
    none of them and a shredded subject's become unreadable; `fold` and the queries
    see them in clear (`opened`)."""

    table: ClassVar[Table]
    sealed: ClassVar[tuple[str, ...]] = ()

    def __init__(self, seal: Seal | None = None, unseal: Unseal | None = None) -> None:
        self.seal, self.unseal = seal, unseal

    @property
    def tables(self) -> tuple[Table, ...]:  # type: ignore[override]
        return (self.table,)

    def _aad(self, row: Row) -> bytes:
        return f"sequester.{self.table.name}.body|{row[self.table.key]}".encode()

    def opened(self, row: Row) -> Row:
        """A stored row with its sealed columns in clear (DataShredded once shredded)."""
        if not self.sealed:
            return row
        assert self.unseal is not None, "a sealing read model needs its unseal"
        body = json.loads(self.unseal(row["body"], self._aad(row)))
        return {**{k: v for k, v in row.items() if k != "body"}, **body}

    def closed(self, row: Row) -> Row:
        """A folded row as stored: its sealed columns in one sealed `body`."""
        if not self.sealed:
            return row
        assert self.seal is not None, "a sealing read model needs its seal"
        body = json.dumps({k: row[k] for k in self.sealed}, sort_keys=True).encode()
        kept = {k: v for k, v in row.items() if k not in self.sealed}
        return {**kept, "body": self.seal(UUID(str(row["subject_id"])), body, self._aad(row))}

    def comparable(self, table: Table, row: Row) -> Row:
        return self.opened(row)

    @abstractmethod
    def fold(self, row: Row | None, event: Event) -> Row | None:
        """The row after `event` (None: no row). Must not mutate `row`."""

    def fold_all(
        self,
        events: Iterable[Event],
        rows: dict[str, Row] | None = None,
        keys: Iterable[str] | None = None,
    ) -> dict[str, Row | None]:
        """Fold events over rows by key (`keys`: each event's aggregate id, if already
        known); the pure core of `apply`."""
        state: dict[str, Row | None] = dict(rows or {})
        events = list(events)
        keys = aggregate_ids(events) if keys is None else keys
        fold = self.fold
        for key, event in zip(keys, events, strict=True):
            state[key] = fold(state.get(key), event)
        return state

    def apply(self, batch: Sequence[Event], tx: Tx) -> None:
        keys = aggregate_ids(batch)
        before = {k: self.opened(r) for k, r in tx.get_many(self.table, keys).items()}
        after = self.fold_all(batch, before, keys)
        changed = list(dict.fromkeys(keys))
        tx.delete(self.table, [k for k in changed if after[k] is None and k in before])
        # A key not read back is not in the table: the runner's tracking update, the
        # transaction's first statement, keeps every other writer of it out until
        # commit. So new rows are plain inserts (one COPY on PostgreSQL).
        tx.insert(self.table, [self.closed(r) for k in changed
                               if (r := after[k]) is not None and k not in before])
        tx.upsert(self.table, [self.closed(r) for k in changed
                               if (r := after[k]) is not None and k in before and r != before[k]])
