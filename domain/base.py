"""What every bounded context stands on: protected aggregates and the application base.

Every aggregate names the person its events are about (its *data subject*) and the
key-encryption key that guards them. The application base records, for the duration
of one save, which data key scope each aggregate's events belong to; the encrypting
mapper (in `ops`) reads that and never has to guess.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Recording,
)

from domain.errors import ConcurrencyConflict, NotFound

#: The three key-encryption keys: ordinary events, identity records, medical records.
KEK_EVENTS = "events"
KEK_DIRECTOR = "director"
KEK_MEDICAL = "medical"
KEK_NAMES = (KEK_EVENTS, KEK_DIRECTOR, KEK_MEDICAL)
#: Aggregate ids derived from pseudonyms and staff ids (uuid5) are remembered: every
#: access decision derives five of them, which cost more than the rest of its Python.
ID_CACHE_SIZE = 16384


class KeyScope(NamedTuple):
    """Which data key encrypts an aggregate's events: a KEK name and a data subject."""

    kek: str
    subject_id: UUID


#: (Never changed in place: each binding sets a new mapping, see `bound_key_scopes`.)
_key_scopes: ContextVar[Mapping[UUID, KeyScope]] = ContextVar("key_scopes", default={})  # noqa: B039


def key_scope_of(originator_id: UUID) -> KeyScope | None:
    """The key scope bound to an aggregate for the save in progress, if any."""
    return _key_scopes.get().get(originator_id)


@contextmanager
def bound_key_scopes(scopes: Mapping[UUID, KeyScope]) -> Iterator[None]:
    token = _key_scopes.set({**_key_scopes.get(), **scopes})
    try:
        yield
    finally:
        _key_scopes.reset(token)


class ProtectedAggregate(Aggregate):
    """An aggregate whose events are encrypted under its data subject's data key."""

    kek: ClassVar[str] = KEK_EVENTS

    @property
    def data_subject_id(self) -> UUID:
        """The person this aggregate is about; by default the aggregate itself."""
        return self.id

    @property
    def key_scope(self) -> KeyScope:
        return KeyScope(type(self).kek, self.data_subject_id)


class DecodedCache:
    """Aggregates decoded lately, shared by every context of a process, for
    `ContextApplication.current_many`. What it holds is bounded by decoded events (an
    aggregate weighs its version), so a few long charts cannot hold unbounded memory;
    the least recently read go first. Entries are replaced, never changed in place."""

    def __init__(self, max_events: int = 200_000) -> None:
        self.max_events = max_events
        self._held: OrderedDict[UUID, Any] = OrderedDict()
        self._events = 0
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> Any | None:
        with self._lock:
            return self._held.get(aggregate_id)

    def get_many(self, aggregate_ids: Iterable[UUID]) -> dict[UUID, Any | None]:
        with self._lock:
            return {i: self._held.get(i) for i in aggregate_ids}

    def put(self, found: Mapping[UUID, Any | None]) -> None:
        """Hold each found aggregate (unless a reader meanwhile held a later version);
        drop those found to be gone (None)."""
        with self._lock:
            for i, aggregate in found.items():
                if aggregate is not None and i in self._held \
                        and self._held[i].version > aggregate.version:
                    continue
                old = self._held.pop(i, None)
                self._events -= old.version if old is not None else 0
                if aggregate is not None:
                    self._held[i] = aggregate
                    self._events += aggregate.version
            while self._events > self.max_events and self._held:
                _, out = self._held.popitem(last=False)
                self._events -= out.version


@dataclass(frozen=True)
class Infrastructure:
    """The persistence shared by every bounded context: one log, one mapper.

    `unit_of_work` wraps every save: ops uses it to write what must commit in the
    same transaction as the events (new data keys, later audit records).
    """

    factory: InfrastructureFactory[Any]
    recorder: ApplicationRecorder
    mapper: Mapper[UUID]
    env: Mapping[str, str]
    unit_of_work: Callable[[], AbstractContextManager[Any]] = field(default=nullcontext)
    decoded: DecodedCache = field(default_factory=DecodedCache)


class ContextApplication(Application[UUID]):
    """Base of every bounded context's application.

    All contexts share one recorder, so every event lands in one notification log
    (one order for the Merkle tree, one transaction for an event and its audit).
    """

    log_section_size = 1000

    def __init__(self, infrastructure: Infrastructure) -> None:
        self._infrastructure = infrastructure
        super().__init__(env=dict(infrastructure.env))

    def construct_factory(self, env: Any) -> InfrastructureFactory[Any]:
        return self._infrastructure.factory

    def construct_mapper(self) -> Mapper[UUID]:
        return self._infrastructure.mapper

    def construct_recorder(self) -> ApplicationRecorder:
        return self._infrastructure.recorder

    def close(self) -> None:
        """The shared infrastructure outlives any one application: its owner closes it."""
        self.closing.set()

    def commit(self, *aggregates: ProtectedAggregate, attach_audit: bool = True) -> int:
        """Save every aggregate's pending events atomically; return the log position.

        Inside `domain.audit.trail.audited_command`, the command's audit record is
        saved in the same transaction.
        """
        from domain.audit.trail import give_back_command_entry, records_for, take_command_entry

        entry = take_command_entry(aggregates) if attach_audit else None
        if entry is not None:
            aggregates = (*aggregates, *records_for(entry))
        scopes = {agg.id: agg.key_scope for agg in aggregates}
        try:
            with self._infrastructure.unit_of_work(), bound_key_scopes(scopes):
                recordings = self.save(*aggregates)
        except IntegrityError:
            give_back_command_entry(entry)
            raise ConcurrencyConflict(
                "another change to the same record was saved first; reload and retry"
            ) from None
        except BaseException:
            give_back_command_entry(entry)
            raise
        ids = [r.notification.id for r in recordings]
        return max(ids) if ids else self.position()

    def position(self) -> int:
        """The log's current position (the id of the last stored event)."""
        return self.recorder.max_notification_id() or 0

    def load(
        self, aggregate_id: UUID, what: str, version: int | None = None, kind: type | None = None
    ) -> Any:
        """Load an aggregate or raise `NotFound` naming what was asked for; with `kind`,
        an id of another kind of aggregate is not found either."""
        if version is None:
            aggregate = self.load_many(aggregate_id).get(aggregate_id)
        else:
            try:
                aggregate = self.repository.get(aggregate_id, version=version)
            except AggregateNotFoundError:
                aggregate = None
        if aggregate is None:
            raise NotFound(f"{what} does not exist")
        if kind is not None and not isinstance(aggregate, kind):
            raise NotFound(f"{what} does not exist")
        return aggregate

    def load_many(self, *aggregate_ids: UUID) -> dict[UUID, Any]:
        """The current state of several aggregates, read in one query; an id with no
        events is absent from the result. A decision that needs several aggregates
        reads them together instead of one round trip each."""
        return {i: self._project(stored)
                for i, stored in self._events_from(dict.fromkeys(aggregate_ids, 0)).items()}

    def current_many(self, *aggregate_ids: UUID) -> dict[UUID, Any]:
        """Like `load_many`, for reading only: never change what it returns.

        Reading an aggregate would otherwise decrypt and replay every event it ever had.
        The aggregates read lately are kept decoded; each read fetches, in one query,
        every aggregate's events from the last one it knows, decrypts that one (without
        decoding it again) and decodes the rest. So an aggregate changed by any process
        (a grant revoked) counts on the next read, and one whose subject was shredded
        fails as `DataShredded` (its key is asked for again) instead of being served
        from memory.
        """
        known = self._infrastructure.decoded.get_many(dict.fromkeys(aggregate_ids))
        news = self._events_from({i: a.version if a else 0 for i, a in known.items()})
        found: dict[UUID, Any] = dict.fromkeys(known)
        for i, stored in news.items():
            old = known[i]
            if old is None:
                found[i] = self._project(stored)
                continue
            if stored[0].originator_version != old.version:  # the log no longer holds it
                found[i] = self.load_many(i).get(i)
                continue
            mapper: Any = self.mapper  # ops.cipher's: the key is asked for again
            mapper.decrypt(stored[0])
            found[i] = old
            if len(stored) > 1:
                found[i] = copy.deepcopy(old)  # readers may hold the one they were given
                for event in map(self.mapper.to_domain_event, stored[1:]):
                    found[i] = event.mutate(found[i])  # type: ignore[attr-defined]
        self._infrastructure.decoded.put(found)
        return {i: a for i, a in found.items() if a is not None}

    def known(self, aggregate_id: UUID) -> Any | None:
        """The decoded copy `current_many` holds, unchecked: a hint of what to read next,
        never a basis for a decision."""
        return self._infrastructure.decoded.get(aggregate_id)

    def _events_from(self, versions: dict[UUID, int]) -> dict[UUID, list[Any]]:
        """Each aggregate's stored events from the given version on, by aggregate."""
        by_id: dict[UUID, list[Any]] = {}
        recorder: Any = self.recorder  # ops.storage's recorders all read several at once
        for stored in recorder.select_events_from(versions):
            by_id.setdefault(stored.originator_id, []).append(stored)
        return by_id

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[Any]]:
        """The library's `save`, collecting each aggregate's events without its two
        runtime-protocol checks per object (about 11 µs each time: more than encrypting
        the event). Anything but an aggregate goes the library's way."""
        if not all(isinstance(obj, Aggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated, but the library still calls it
        return recordings

    def _project(self, stored: list[Any]) -> Any:
        """The library's `project_aggregate` without its per-event runtime-protocol
        check, which costs more than decrypting the event."""
        aggregate = None
        for event in map(self.mapper.to_domain_event, stored):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate
