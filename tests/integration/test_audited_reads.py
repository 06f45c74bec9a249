"""Audited chart reads on one reader thread (api/reads.py), on SQLite and PostgreSQL:
concurrent reads share one commit, and each is answered only once its record is stored;
one read's error is its own; if the records cannot be committed, every read that had
one fails and nothing is stored."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.reads import AuditedReads
from domain.access.facts import Assessment, ChartAsk
from domain.access.policy import Principal
from domain.audit.trail import AUDIT_SUBJECT, AuditEntry
from domain.errors import NotFound
from ops.bootstrap import System
from tests import dbutil
from tests.unit.test_chart_access import HIRED, enrol, staff

NOW = datetime.now(UTC)
CLINICIAN = Principal("C-1", frozenset({"clinician"}))


@pytest.fixture
def charts(system: System) -> tuple[str, str]:
    """A chart C-1 may read, and one it may not."""
    staff(system, "PO", ["privacy_officer"])
    staff(system, "C-1", ["clinician"])
    granted, other = enrol(system, None, "public_figure"), enrol(system, None, "public_figure")
    for pseudonym in (granted, other):
        system.charts.open(pseudonym, system.subjects.get(pseudonym).id, HIRED)
    subject = system.subjects.get(granted)
    gid, _ = system.access.grant("C-1", granted, subject.id, "read", "TREAT",
                                 NOW + timedelta(days=1), "treating clinician", "PO",
                                 NOW - timedelta(hours=1), actor_roles=["privacy_officer"])
    system.access.confirm(gid, "D-1", NOW - timedelta(minutes=30), None, actor_roles=["director"])
    return granted, other


def ask(pseudonym: str) -> ChartAsk:
    return ChartAsk(CLINICIAN, "read", pseudonym, "TREAT", datetime.now(UTC), with_chart=True)


def record_if_allowed(request_id: str) -> Callable[[Assessment], AuditEntry | None]:
    def entry_of(assessed: Assessment) -> AuditEntry | None:
        if not assessed.decision.allowed:
            return None
        return AuditEntry(principal="C-1", roles=["clinician"], action="chart.read",
                          target=assessed.subject.pseudonym, decision="allowed",
                          rule=assessed.decision.rule, at=datetime.now(UTC),
                          request_id=request_id, outcome="200")
    return entry_of


@pytest.fixture
def gated(system: System) -> Iterator[tuple[AuditedReads, threading.Event, threading.Event]]:
    """Reads whose batches wait at a gate: `entered` is set when a batch reaches it."""
    entered, gate = threading.Event(), threading.Event()

    def work_all(asks: list[Any]) -> list[Any]:
        entered.set()
        gate.wait(timeout=30)
        return system.chart_access.assess_all(asks)

    reads = AuditedReads(work_all, system.audit)
    yield reads, entered, gate
    gate.set()
    reads.close()


def stored(system: System, request_id: str) -> list[dict[str, Any]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    entries = [system.audit.repository.get(r[0]).entry for r in rows]
    return [e for e in entries if e["request_id"] == request_id]


def test_concurrent_reads_share_one_commit_and_each_answers_after_its_record(
    system: System, charts: tuple[str, str], gated: tuple[AuditedReads, threading.Event, threading.Event],
) -> None:
    reads, entered, gate = gated
    granted, _ = charts
    commits = system.audit.commits

    async def main() -> list[Any]:
        first = asyncio.create_task(reads.run(ask(granted), record_if_allowed("r-0")))
        await asyncio.to_thread(entered.wait, 30)  # the first batch holds the reader thread
        rest = [asyncio.create_task(reads.run(ask(granted), record_if_allowed(f"r-{n}")))
                for n in range(1, 9)]
        await asyncio.sleep(0.05)  # all eight are queued behind it
        gate.set()
        answers = []
        for n, task in enumerate([first, *rest]):
            answers.append(await task)
            assert len(stored(system, f"r-{n}")) == 1  # durable before the answer
        return answers

    answers = asyncio.run(main())
    assert all(a.decision.allowed and a.chart.pseudonym == granted for a in answers)
    assert system.audit.commits - commits == 2  # the first read's commit, then the eight's


def test_each_reads_error_and_refusal_is_its_own(
    system: System, charts: tuple[str, str], gated: tuple[AuditedReads, threading.Event, threading.Event],
) -> None:
    reads, _, gate = gated
    granted, other = charts
    gate.set()

    async def main() -> list[Any]:
        return await asyncio.gather(
            reads.run(ask(granted), record_if_allowed("allowed")),
            reads.run(ask("SQ-ZZZZ-ZZZZ"), record_if_allowed("unknown")),
            reads.run(ask(other), record_if_allowed("refused")),
            return_exceptions=True,
        )

    allowed, unknown, refused = asyncio.run(main())
    assert allowed.decision.allowed and allowed.chart.pseudonym == granted
    assert isinstance(unknown, NotFound)
    assert (refused.decision.allowed, refused.decision.rule, refused.chart) == (False, "no_grant", None)
    # only the allowed read stored a record here (the API stores the others' refusals)
    assert [len(stored(system, r)) for r in ("allowed", "unknown", "refused")] == [1, 0, 0]


def test_if_the_records_cannot_be_committed_every_read_with_one_fails(
    system: System, charts: tuple[str, str], gated: tuple[AuditedReads, threading.Event, threading.Event],
) -> None:
    reads, _, gate = gated
    granted, other = charts
    gate.set()
    asyncio.run(reads.run(ask(granted), record_if_allowed("warm-up")))
    system.keyring.store.shred(AUDIT_SUBJECT, "fault injection", datetime.now(UTC))
    system.keyring._by_scope.discard_where(lambda s: True)
    system.keyring._warmed_at = None
    before = dbutil.rows(system)

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(reads.run(ask(granted), record_if_allowed(f"r-{n}")) for n in range(3)),
            reads.run(ask(other), record_if_allowed("refused")),
            return_exceptions=True,
        )

    *failed, refused = asyncio.run(main())
    assert all(isinstance(f, Exception) for f in failed), failed
    assert not refused.decision.allowed  # no record of its own to commit here
    assert dbutil.rows(system) == before


def test_closing_stops_the_reader_thread(system: System) -> None:
    reads = AuditedReads(system.chart_access.assess_all, system.audit)
    reads.close()
    assert not reads._thread.is_alive()


def test_an_unexpected_error_fails_its_batch_and_the_next_batch_is_served(
    system: System, charts: tuple[str, str],
) -> None:
    granted, _ = charts
    calls = 0

    def work_all(asks: list[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        answers = system.chart_access.assess_all(asks)
        return answers[:-1] if calls == 1 else answers  # a bug: one answer missing

    reads = AuditedReads(work_all, system.audit)
    try:
        with pytest.raises(ValueError):  # not a wait for ever (TimeoutError)
            asyncio.run(asyncio.wait_for(reads.run(ask(granted), record_if_allowed("broken")), 10))
        assert reads._thread.is_alive()
        answer = asyncio.run(asyncio.wait_for(reads.run(ask(granted), record_if_allowed("next")), 10))
        assert answer.decision.allowed
        assert [len(stored(system, r)) for r in ("broken", "next")] == [0, 1]
    finally:
        reads.close()
