"""Audited reads, batched on one thread (DESIGN §3 item 2; issue 5's read target).

An audited read asks the log for a decision's facts, decides, and commits its audit
record before it answers. Done on the thread pool, every read is its own thread: at a
few dozen reads in flight per process they spend more CPU handing the interpreter lock
to one another than reading. Here each process has one reader thread instead. It takes
every read waiting, decides them all from one query (`ChartAccess.assess_all`), commits
all their audit records in one transaction, and only then hands each request its
answer on the event loop. So a read is still decided on the log as it stands when its
batch is read, and its record is still durable before its response; concurrent reads
share the query and the commit.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from domain.audit.application import AuditTrail
from domain.audit.trail import AuditEntry

log = structlog.get_logger("sequester.api")
#: Under load (the last batch held more than one read), the thread waits this long for
#: more reads before deciding a batch, as PostgreSQL's `commit_delay` does for commits:
#: a read then waits up to 1 ms more, and a batch shares its query and commit among
#: more reads (chart reads ~5-10 % more per CPU second in `sequester bench api`).
#: A lone read never waits.
GATHER_SECONDS = 0.001


@dataclass
class _Read:
    ask: Any
    entry_of: Callable[[Any], AuditEntry | None]
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    entry: AuditEntry | None = None


class AuditedReads:
    """One reader thread per process; `await run(ask, entry_of)` from the event loop."""

    def __init__(self, work_all: Callable[[list[Any]], list[Any]], audit: AuditTrail,
                 max_batch: int = 256) -> None:
        self.work_all, self.audit, self.max_batch = work_all, audit, max_batch
        self._last = 0  # the size of the last batch
        self._queue: queue.SimpleQueue[_Read | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="audited-reads", daemon=True)
        self._thread.start()

    async def run(self, ask: Any, entry_of: Callable[[Any], AuditEntry | None]) -> Any:
        """What `work_all` answers to `ask`, once the audit entry `entry_of` makes of it
        (if any) is durable; the error it answers, or the commit's, raised here."""
        loop = asyncio.get_running_loop()
        read = _Read(ask, entry_of, loop, loop.create_future())
        self._queue.put(read)
        return await read.done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            if self._last > 1:
                time.sleep(GATHER_SECONDS)
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._last = len(batch)
            # An unexpected error fails this batch's reads; it must not end the thread,
            # or every later read would wait for ever.
            try:
                self._run(batch)
            except Exception as e:  # noqa: BLE001
                log.error("reads.batch_failed", error_type=type(e).__name__)
                for read in batch:
                    read.error = e
            self._settle(batch)

    def _run(self, batch: list[_Read]) -> None:
        """Decide every read of the batch, then commit their audit records together."""
        try:
            answers = self.work_all([read.ask for read in batch])
        except Exception as e:  # noqa: BLE001 - every read of the batch raises it
            answers = [e] * len(batch)
        for read, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Exception):
                read.error = answer
                continue
            try:
                read.result, read.entry = answer, read.entry_of(answer)
            except Exception as e:  # noqa: BLE001 - the request raises it
                read.error = e
        entries = [read.entry for read in batch if read.entry is not None]
        if entries:
            try:
                self.audit.record_all(entries)
            except Exception as e:  # noqa: BLE001 - every read with a record fails closed
                log.error("audit.write_failed", error_type=type(e).__name__)
                for read in batch:
                    if read.entry is not None:
                        read.error = e

    @staticmethod
    def _settle(batch: list[_Read]) -> None:
        """Answer each read on its own event loop (one wake-up per loop and batch)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Read]] = {}
        for read in batch:
            by_loop.setdefault(read.loop, []).append(read)
        for loop, reads in by_loop.items():
            try:
                loop.call_soon_threadsafe(_answer, reads)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass


def _answer(reads: list[_Read]) -> None:
    for read in reads:
        if read.done.done():  # the request was cancelled (its client went away)
            continue
        if read.error is not None:
            read.done.set_exception(read.error)
        else:
            read.done.set_result(read.result)
