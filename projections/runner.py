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

import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
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


class Partition(NamedTuple):
    """One of `shares` disjoint shares of the log, by aggregate: an event belongs to
    share `b % shares`, `b` the last byte of its originator id (so PostgreSQL can
    compute it too; `shares` is at most 256). Every read model's rows follow from the events of
    one aggregate each (a fold per aggregate, an entry from its own chart's events), so
    the shares can be rebuilt side by side into the same tables."""

    share: int
    shares: int

    def holds(self, originator_id: UUID | str) -> bool:
        number = originator_id.int if isinstance(originator_id, UUID) else UUID(originator_id).int
        return (number & 0xFF) % self.shares == self.share


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
        partition: Partition | None = None,
        reopen: Callable[[], ProjectionRunner] | None = None,
    ) -> None:
        """`partition`: apply only that share of the log (a parallel rebuild's part).
        `reopen`: builds this runner again from scratch (its own connections and keys),
        for a rebuild's child processes; without it a rebuild runs in this process."""
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self.infrastructure = getattr(system_or_parts, "infrastructure", system_or_parts)
        self.recorder = self.infrastructure.recorder
        self.mapper = self.infrastructure.mapper
        self.projections = list(projections)
        self.batch_size = batch_size
        self.partition = partition
        self.reopen = reopen
        self.db = db_for(self.infrastructure, prefix)
        self.log = LogReader(self.recorder, self.db, partition)
        self.shredded_skipped = 0
        self._create()

    # -- set-up ----------------------------------------------------------------------
    def tracking_key(self, name: str) -> str:
        """Live and scratch views of one projection track separately (and so do the
        shares of a parallel rebuild)."""
        return tracking_key(self.db.prefix, name, self.partition)

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
        """The notifications of `topics` (in this runner's share of the log), decoded
        (the others are never decrypted)."""
        wanted = [n for n in notifications if n.topic in topics]
        if self.partition is not None:
            wanted = [n for n in wanted if self.partition.holds(n.originator_id)]
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
        processes: int = 1,
    ) -> ProjectionRunner:
        """The same projections rebuilt from position 0 into tables `<into_prefix><name>`
        (dropped first), up to `stop` (default: this runner's position if every
        projection shares it, else the log's end), in batches of `batch_size` (larger
        than a live worker's: a rebuild has no reader waiting on its next commit).
        With `processes` > 1 (and a `reopen`), that many child processes each rebuild
        one `Partition` of the log into the same tables (their `shredded_skipped` stay
        theirs). Compare with `projections.audit`."""
        if into_prefix == self.db.prefix:
            raise ValueError("a rebuild needs a prefix other than the live tables'")
        if not 1 <= processes <= 256:
            raise ValueError(f"a rebuild runs in 1 to 256 processes, not {processes}")
        if stop is None:
            positions = set(self.positions().values())
            stop = positions.pop() if len(positions) == 1 else None
        self.db.with_prefix(into_prefix).drop(t for p in self.projections for t in p.tables)
        parts = [Partition(i, processes) for i in range(processes)]
        with self.db.with_prefix("").transaction() as tx:
            tx.delete(TRACKING, [tracking_key(into_prefix, p.name, part)
                                 for p in self.projections for part in (None, *parts)])
        scratch = ProjectionRunner(
            self.infrastructure, self.projections, batch_size, prefix=into_prefix
        )
        if processes <= 1 or self.reopen is None:
            scratch.catch_up(stop)
            return scratch
        if stop is None:
            stop = self.recorder.max_notification_id() or 0
        self._rebuild_in_parts(scratch, parts, stop)
        return scratch

    def _rebuild_in_parts(self, scratch: ProjectionRunner, parts: list[Partition], stop: int) -> None:
        """Each share in its own child process (forked: nothing to import again), then
        the shares' positions (all equal: each read the same notifications) become the
        scratch views' one position, in one transaction."""
        assert self.reopen is not None
        context = multiprocessing.get_context("fork")
        children = [
            context.Process(
                target=_rebuild_share,
                args=(self.reopen, scratch.db.prefix, scratch.batch_size, part, stop),
                name=f"rebuild-{part.share}",
            )
            for part in parts
        ]
        for child in children:
            child.start()
        for child in children:
            child.join()
        failed = [c.name for c in children if c.exitcode != 0]
        keys = {(p.name, part): tracking_key(scratch.db.prefix, p.name, part)
                for p in self.projections for part in parts}
        with self.db.with_prefix("").transaction() as tx:
            rows = tx.get_many(TRACKING, keys.values())
            reached = {int(row["position"]) for row in rows.values()}
            whole = not failed and len(rows) == len(keys) and len(reached) == 1
            tx.delete(TRACKING, keys.values())
            if whole:
                (position,) = reached
                for p in self.projections:
                    scratch._advance(tx, p.name, 0, position)
        if not whole:
            scratch.drop()
            why = (f"rebuild process(es) {', '.join(failed)} failed" if failed
                   else "the rebuild processes stopped at different positions")
            raise ProjectionFailed({p.name: RuntimeError(why) for p in self.projections})

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


def tracking_key(prefix: str, name: str, partition: Partition | None = None) -> str:
    """A projection's tracking row: one per prefix (live, scratch), and one per share of
    a parallel rebuild while it runs."""
    if partition is None:
        return prefix + name
    return f"{prefix}{name}#{partition.share}/{partition.shares}"


def _rebuild_share(
    reopen: Callable[[], ProjectionRunner], prefix: str, batch_size: int, part: Partition, stop: int
) -> None:
    """A rebuild's child process: its own connections and keys (none of the parent's
    survive a fork safely), one share of the log, then exit."""
    try:
        fresh = reopen()
        try:
            ProjectionRunner(
                fresh.infrastructure, fresh.projections, batch_size, prefix=prefix, partition=part
            ).catch_up(stop)
        finally:
            fresh.infrastructure.factory.close()
    except Exception as e:  # noqa: BLE001 - the parent learns it from the exit code
        log.error("projection.rebuild_share_failed", share=part.share, error=type(e).__name__)
        raise SystemExit(1) from None
