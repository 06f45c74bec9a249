"""A batched, exactly-once projection runner over the shared notification log.

Each round reads up to `batch_size` notifications after a projection's position, decodes
them once, and hands the projection the events of its topics inside ONE transaction whose
first statement advances its tracking row by compare-and-set:

    UPDATE sequester_tracking SET position = new WHERE projection = name AND position = old

No row matched means another worker (or an earlier delivery) moved it first: the
transaction rolls back and `TrackingConflict` is raised. Rows and position therefore
commit together or not at all, so a crash at any point loses and doubles nothing, and
two workers on one projection are harmless. Ignored events advance the position too.

A shredded event (its data key destroyed) cannot be decoded: it is skipped, for every
projection, live or rebuilt alike, so both stay equal. `forget_subject` deletes what the
read models already hold about a subject once `keys shred` has run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

import structlog
from eventsourcing.persistence import Notification

from domain.errors import DataShredded
from projections.base import Event, Projection
from projections.reading import LogReader, Stored, collector_paused
from projections.tables import TRACKING_TABLE, Column, Db, Dialect, Table, Tx

log = structlog.get_logger("sequester.projections")
#: Notifications per round of a rebuild: fewer, larger transactions.
REBUILD_BATCH_SIZE = 10_000

TRACKING = Table(
    TRACKING_TABLE,
    (Column("projection", "text", False), Column("position", "int", False)),
    key="projection",
)


class TrackingConflict(Exception):
    """The tracking row was not where this worker read it: another delivery won."""


class ProjectionFailed(Exception):
    """One or more projections could not apply a batch (each rolled back)."""

    def __init__(self, failures: dict[str, BaseException]) -> None:
        super().__init__(f"projection(s) {sorted(failures)} failed; their batches rolled back")
        self.failures = failures


class Decoded(NamedTuple):
    notification_id: int
    topic: str
    event: Event | None  # None: shredded


def db_for(infrastructure: Any, prefix: str = "rm_") -> Db:
    """The read-model tables in the database of the shared recorder."""
    datastore = infrastructure.recorder.datastore
    postgres = infrastructure.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
    schema = infrastructure.env.get("POSTGRES_SCHEMA") or getattr(datastore, "schema", "public")
    return Db(datastore, Dialect(postgres, schema or "public"), prefix)


class ProjectionRunner:
    """Runs read models over the log of a `System` (or its `Infrastructure`)."""

    def __init__(
        self,
        system_or_parts: Any,
        projections: Sequence[Projection],
        batch_size: int = 1000,
        *,
        prefix: str = "rm_",
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self.infrastructure = getattr(system_or_parts, "infrastructure", system_or_parts)
        self.recorder = self.infrastructure.recorder
        self.mapper = self.infrastructure.mapper
        self.projections = list(projections)
        self.batch_size = batch_size
        self.db = db_for(self.infrastructure, prefix)
        self.log = LogReader(self.recorder, self.db)
        self.shredded_skipped = 0
        self._create()

    # -- set-up ----------------------------------------------------------------------
    def tracking_key(self, name: str) -> str:
        """Live and scratch views of one projection track separately."""
        return self.db.prefix + name

    def _create(self) -> None:
        self.db.with_prefix("").create([TRACKING])
        self.db.create(t for p in self.projections for t in p.tables)
        with self.db.with_prefix("").transaction() as tx:
            for p in self.projections:
                tx.execute(
                    "INSERT INTO {t} (projection, position) VALUES (%s, 0) "
                    "ON CONFLICT (projection) DO NOTHING",
                    (self.tracking_key(p.name),),
                    t=TRACKING,
                )

    # -- positions ---------------------------------------------------------------------
    def positions(self) -> dict[str, int]:
        keys = {self.tracking_key(p.name): p.name for p in self.projections}
        with self.db.with_prefix("").read() as tx:
            rows = tx.get_many(TRACKING, keys)
        return {name: int(rows[key]["position"]) for key, name in keys.items()}

    def position(self, name: str) -> int:
        return self.positions()[name]

    def wait(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: True once every projection has applied `position`;
        False after `timeout` seconds (polls with a short back-off)."""
        deadline = time.monotonic() + timeout
        pause = 0.01
        while True:
            if min(self.positions().values(), default=position) >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.2)

    # -- running -----------------------------------------------------------------------
    def run_once(self, stop: int | None = None) -> int:
        """One batch for every projection behind the log (or behind `stop`); returns how
        many notifications the furthest-moving projection passed (0: all caught up).
        Projections at the same position share one read and one decode. A failing
        projection rolls back alone; the others still commit; then `ProjectionFailed`."""
        moved, failures = 0, dict[str, BaseException]()
        for position, members in self._groups(stop):
            notifications = self.log.read(position + 1, self.batch_size, stop)
            if not notifications:
                continue
            decoded = self._decode(notifications, {t for p in members for t in p.topics})
            last = notifications[-1].id
            if self._apply_group(members, position, last, decoded, failures):
                moved = max(moved, len(notifications))
        if failures:
            raise ProjectionFailed(failures) from next(iter(failures.values()))
        return moved

    def _groups(self, stop: int | None) -> list[tuple[int, list[Projection]]]:
        """Projections by position (behind `stop`), the furthest behind first."""
        groups: dict[int, list[Projection]] = {}
        positions = self.positions()
        for p in self.projections:
            if stop is None or positions[p.name] < stop:
                groups.setdefault(positions[p.name], []).append(p)
        return sorted(groups.items())

    def _apply_group(
        self,
        members: Sequence[Projection],
        old: int,
        new: int,
        decoded: Sequence[Decoded],
        failures: dict[str, BaseException],
    ) -> bool:
        """Apply one batch to every member, together if that succeeds, else each in its
        own transaction; True if any moved."""
        if len(members) > 1 and self._apply_together(members, old, new, decoded):
            return True
        moved = False
        for p in members:
            try:
                self._apply(p, old, new, decoded)
                moved = True
            except TrackingConflict:  # another worker applied it: nothing to do here
                log.info("projection.conflict", projection=p.name, position=old)
                moved = True
            except Exception as e:  # noqa: BLE001 - reported together by run_once
                log.error("projection.failed", projection=p.name, position=old,
                          error=type(e).__name__)  # fmt: skip
                failures[p.name] = e
        return moved

    def catch_up(self, stop: int | None = None) -> int:
        """Run rounds until every projection is at the log's end (or at `stop`)."""
        total = 0
        with collector_paused():
            while moved := self.run_once(stop):
                total += moved
        return total

    def run_forever(self, stop_event: threading.Event, poll_interval: float = 0.2) -> None:
        """Until `stop_event` is set: apply batches, sleep when idle or after a failure."""
        while not stop_event.is_set():
            try:
                moved = self.run_once()
            except ProjectionFailed:
                moved = 0
            except Exception as e:  # noqa: BLE001 - a worker outlives a database blip
                log.error("projection.round_failed", error=type(e).__name__)
                moved = 0
            if not moved:
                stop_event.wait(poll_interval)

    def _decode(
        self, notifications: Sequence[Notification | Stored], topics: set[str]
    ) -> list[Decoded]:
        """The notifications of `topics`, decoded (the others are never decrypted)."""
        wanted = [n for n in notifications if n.topic in topics]
        events = self._decode_events(wanted)
        self.shredded_skipped += sum(1 for e in events if e is None)
        return [Decoded(n.id, n.topic, e) for n, e in zip(wanted, events, strict=True)]

    def _decode_events(self, stored: Sequence[Notification | Stored]) -> list[Event | None]:
        """Events in order, None where shredded; the mapper's batch path if it has one."""
        many = getattr(self.mapper, "to_domain_events", None)
        if many is not None:
            events: list[Event | None] = many(stored)
            return events
        events = []
        for n in stored:
            try:
                events.append(self.mapper.to_domain_event(n))
            except DataShredded:
                events.append(None)
        return events

    @staticmethod
    def _batch(p: Projection, old: int, decoded: Sequence[Decoded]) -> list[Event]:
        topics = set(p.topics)
        return [
            d.event
            for d in decoded
            if d.topic in topics and d.event is not None and d.notification_id > old
        ]

    def _apply(self, p: Projection, old: int, new: int, decoded: Sequence[Decoded]) -> None:
        batch = self._batch(p, old, decoded)
        with self.db.transaction() as tx:
            self._advance(tx, p.name, old, new)
            if batch:
                p.apply(batch, tx)

    def _apply_together(
        self, members: Sequence[Projection], old: int, new: int, decoded: Sequence[Decoded]
    ) -> bool:
        """Every member's batch and position in ONE transaction: one commit per round
        instead of one per read model. Each member's rows still commit with its own
        position. False if anything failed (all rolled back): the caller then applies
        them one by one, which isolates the failure and reports it."""
        batches = [(p, self._batch(p, old, decoded)) for p in members]
        try:
            with self.db.transaction() as tx:
                for p, _ in batches:
                    self._advance(tx, p.name, old, new)
                for p, batch in batches:
                    if batch:
                        p.apply(batch, tx)
        except Exception:  # noqa: BLE001 - retried one by one, which reports it
            return False
        return True

    def _advance(self, tx: Tx, name: str, old: int, new: int) -> None:
        """Compare-and-set of the tracking row, first, so it also serialises workers."""
        tracking = Tx(tx.cursor, self.db.with_prefix(""))
        matched = tracking.execute(
            "UPDATE {t} SET position = %s WHERE projection = %s AND position = %s "
            "RETURNING position",
            (new, self.tracking_key(name), old),
            t=TRACKING,
        )
        if not matched:
            raise TrackingConflict(
                f"projection {name} is no longer at position {old}: another worker moved it"
            )

    # -- rebuilding -----------------------------------------------------------------------
    def rebuild(
        self,
        into_prefix: str = "rm_scratch_",
        stop: int | None = None,
        batch_size: int = REBUILD_BATCH_SIZE,
    ) -> ProjectionRunner:
        """The same projections rebuilt from position 0 into tables `<into_prefix><name>`
        (dropped first), up to `stop` (default: this runner's position if every
        projection shares it, else the log's end), in batches of `batch_size` (larger
        than a live worker's: a rebuild has no reader waiting on its next commit).
        Compare with `projections.audit`."""
        if into_prefix == self.db.prefix:
            raise ValueError("a rebuild needs a prefix other than the live tables'")
        if stop is None:
            positions = set(self.positions().values())
            stop = positions.pop() if len(positions) == 1 else None
        self.db.with_prefix(into_prefix).drop(t for p in self.projections for t in p.tables)
        with self.db.with_prefix("").transaction() as tx:
            keys = [into_prefix + p.name for p in self.projections]
            tx.delete(TRACKING, keys)
        scratch = ProjectionRunner(
            self.infrastructure, self.projections, batch_size, prefix=into_prefix
        )
        scratch.catch_up(stop)
        return scratch

    def drop(self) -> None:
        """Drop this runner's tables and tracking rows (for scratch views)."""
        self.db.drop(t for p in self.projections for t in p.tables)
        with self.db.with_prefix("").transaction() as tx:
            tx.delete(TRACKING, [self.tracking_key(p.name) for p in self.projections])

    # -- shredding ---------------------------------------------------------------------
    def forget_subject(self, subject_id: UUID) -> None:
        """Delete every read-model row about a shredded subject (call after `keys shred`)."""
        with self.db.transaction() as tx:
            for p in self.projections:
                p.forget_subject(subject_id, tx)
