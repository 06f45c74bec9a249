"""The audit trail's application: standalone records (reads, refusals) and look-ups.

Reads must not return data before their audit record is durable, but one durable commit
per request caps throughput at the disk's commit rate. `record()` therefore uses group
commit: whoever arrives while no commit is in flight leads and commits every record
queued meanwhile in one transaction; each caller returns only once its record is in.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any
from uuid import UUID

from domain.audit.trail import AuditEntry, AuditRecord, records_for
from domain.base import ContextApplication, Infrastructure
from domain.errors import ConcurrencyConflict


class AuditTrail(ContextApplication):
    name = "audit"

    def __init__(self, infrastructure: Infrastructure, max_batch: int = 512) -> None:
        super().__init__(infrastructure)
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[tuple[AuditEntry, Future[int]]] = []
        self._leading = False
        self.commits = 0  # how many transactions stored standalone records (for tests)

    def record(self, entry: AuditEntry) -> int:
        """Store one entry on its own; durable when this returns (its log position)."""
        done: Future[int] = Future()
        with self._lock:
            self._queue.append((entry, done))
            lead = not self._leading
            self._leading = self._leading or lead
        if lead:
            self._lead()
        return done.result()

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                if not batch:
                    self._leading = False
                    return
            try:
                position = self.record_all([entry for entry, _ in batch])
            except BaseException as e:  # noqa: BLE001 - every waiter of the batch learns of it
                for _, done in batch:
                    done.set_exception(e)
                continue
            for _, done in batch:
                done.set_result(position)

    def record_all(self, entries: list[AuditEntry]) -> int:
        """Store several entries in one transaction; durable when this returns.

        Records are new aggregates, so the one conflict they can meet is the audit
        trail's data key, created at the same moment by another process (the first
        records after a deployment): that commit rolls back whole, and is made again
        with the key that won. A second conflict (an idempotent record id already
        stored) is the caller's."""
        try:
            position = self._commit_records(entries)
        except ConcurrencyConflict:
            position = self._commit_records(entries)
        self.commits += 1
        return position

    def _commit_records(self, entries: list[AuditEntry]) -> int:
        return self.commit(*(agg for entry in entries for agg in records_for(entry)),
                           attach_audit=False)

    def find(self, record_id: UUID) -> dict[str, Any] | None:
        """The stored entry of an audit record, or None if there is none (yet)."""
        record = self.load_many(record_id).get(record_id)
        return dict(record.entry) if isinstance(record, AuditRecord) else None

    def get(self, record_id: UUID) -> AuditRecord:
        record: AuditRecord = self.load(record_id, f"audit record {record_id}")
        return record
