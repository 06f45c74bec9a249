"""Projections stay ordered and gap-free while writers' transactions are held open.

A BEFORE INSERT trigger in the scratch schema sleeps a random 0–30 ms per row, so each
writer's transaction stays open after its notification ids are drawn (a column default
is evaluated before BEFORE triggers run). Four writer threads append audited chart
entries while the projection runner polls every millisecond in another thread, reading
to the head of the log each round. If ids became visible out of order, a runner that
reads "after my last position" would pass over the late one for good. At the end every
event of the log must have been applied exactly once, in log order, and the read models
must equal a rebuild from zero.

What keeps this true is the library's `LOCK TABLE … IN EXCLUSIVE MODE` in every insert
(held until commit, taken before the ids are drawn): the negative control runs the same
test with a recorder that skips only that lock, and the checker must report skipped
events — proof that the test can see the bug it guards against.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from domain.audit.trail import audited_command
from domain.subjects.pseudonym import new_pseudonym
from ops import storage
from ops.bootstrap import System, build
from projections.audit import compare
from projections.base import Event, Projection
from projections.runner import ProjectionRunner
from projections.tables import Column, Table, Tx
from tests.conftest import POSTGRES_URL
from tests.crash.harness import ENTRY, OPENED, RECORDED
from tests.crash.writer import OPENED_ON, audit_entry
from tests.projection_data import models

pytestmark = pytest.mark.postgres
WRITERS, COMMITS = 4, 20


class EveryEvent(Projection):
    """Counts each event it is given, and remembers the order it was given them in."""

    name = "every_event"
    table = Table(
        "every_event", (Column("event", "text", False), Column("applied", "int", False)),
        key="event",
    )  # fmt: skip
    tables = (table,)
    events = (OPENED, ENTRY, RECORDED)

    def __init__(self) -> None:
        self.order: list[str] = []  # one runner, no conflicts: nothing here rolls back

    def apply(self, batch: Sequence[Event], tx: Tx) -> None:
        for event in batch:
            key = f"{event.originator_id}:{event.originator_version}"
            tx.execute(
                "INSERT INTO {t} AS t (event, applied) VALUES (%s, 1) "
                "ON CONFLICT (event) DO UPDATE SET applied = t.applied + 1",
                (key,), t=self.table,
            )  # fmt: skip
            self.order.append(key)


class UnlockedRecorder(storage.PostgresRecorder):
    """The negative control: every insert as usual, without the EXCLUSIVE table lock."""

    def _lock_table(self, curs: Any) -> None:
        curs.execute(self.lock_table_statements[0])  # SET LOCAL lock_timeout only


def hold_inserts_open(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL(
            "CREATE FUNCTION {s}.hold_open() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(random() * 0.03); RETURN NEW; END $$"
        ).format(s=sql.Identifier(schema)))  # fmt: skip
        conn.execute(sql.SQL(
            "CREATE TRIGGER hold_open BEFORE INSERT ON {s}.sequester_events "
            "FOR EACH ROW EXECUTE FUNCTION {s}.hold_open()"
        ).format(s=sql.Identifier(schema)))  # fmt: skip


def writer(system: System, errors: list[BaseException]) -> None:
    """Opens its own chart, then appends audited entries, one commit each."""
    try:
        charts, pseudonym = system.charts, new_pseudonym()
        with audited_command(audit_entry("chart.open", f"open:{pseudonym}")):
            charts.open(pseudonym, uuid4(), OPENED_ON)
        for n in range(COMMITS):
            chart = charts.get(pseudonym)
            chart.record_entry(uuid4(), "C-1", True, "individual_session", None, OPENED_ON,
                               f"note {n}", datetime.now(UTC))  # fmt: skip
            with audited_command(audit_entry("chart.write", f"{pseudonym}/{n}")):
                charts.commit(chart)
    except BaseException as e:  # noqa: BLE001 - re-raised by the test
        errors.append(e)


def log_order(system: System) -> list[str]:
    topics = EveryEvent().topics
    rows, position = [], 0
    recorder = system.infrastructure.recorder
    while page := recorder.select_notifications(start=position + 1, limit=1000):
        rows += [f"{n.originator_id}:{n.originator_version}" for n in page if n.topic in topics]
        position = page[-1].id
    return rows


def run_concurrently(system: System, runner: ProjectionRunner) -> None:
    """Writers and the polling runner at once; then the runner catches up."""
    system.audit.record(audit_entry("warm-up", "warm-up"))  # the audit trail's data key
    stop, errors = threading.Event(), list[BaseException]()
    polling = threading.Thread(target=runner.run_forever, args=(stop, 0.001))
    writers = [threading.Thread(target=writer, args=(system, errors)) for _ in range(WRITERS)]
    polling.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    polling.join(timeout=30)
    assert not errors, errors
    assert min(runner.positions().values()) > 1, "the runner did not run beside the writers"
    runner.catch_up()


def skipped_and_doubled(system: System, runner: ProjectionRunner, tally: EveryEvent) -> tuple[
    list[str], list[str]
]:  # fmt: skip
    with runner.db.read() as tx:
        applied = {r["event"]: r["applied"] for r in tx.rows(tally.table)}
    expected = log_order(system)
    return [k for k in expected if k not in applied], [k for k, n in applied.items() if n != 1]


@pytest.fixture
def held_open_system(postgres_schema: str, settings_for: Any) -> Iterator[System]:
    system = build(settings_for(f"{POSTGRES_URL}?schema={postgres_schema}",
                                projections_in_process=False))  # fmt: skip
    hold_inserts_open(postgres_schema)
    yield system
    system.close()


def test_every_event_is_applied_once_in_log_order_while_commits_are_held_open(
    held_open_system: System,
) -> None:
    system = held_open_system
    tally = EveryEvent()
    runner = ProjectionRunner(system, [tally, *models(system)], batch_size=1000)
    run_concurrently(system, runner)
    skipped, doubled = skipped_and_doubled(system, runner, tally)
    assert (skipped, doubled) == ([], [])
    assert len(tally.order) == 1 + WRITERS * (1 + COMMITS) * 2  # warm-up, events, audits
    assert tally.order == log_order(system)
    assert compare(runner, runner.rebuild()) == []


def test_negative_control_without_the_table_lock_the_checker_sees_skipped_events(
    postgres_schema: str, settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"{__name__}:UnlockedRecorder"
    monkeypatch.setitem(storage.RECORDER_TOPICS, "eventsourcing.postgres", topic)
    system = build(settings_for(f"{POSTGRES_URL}?schema={postgres_schema}",
                                projections_in_process=False))  # fmt: skip
    assert isinstance(system.infrastructure.recorder, UnlockedRecorder)
    system.infrastructure.recorder.ledger = None  # its leaf numbering needs the lock too
    hold_inserts_open(postgres_schema)
    try:
        tally = EveryEvent()
        runner = ProjectionRunner(system, [tally, *models(system)], batch_size=1000)
        run_concurrently(system, runner)
        skipped, doubled = skipped_and_doubled(system, runner, tally)
        assert skipped, "out-of-order commits went unnoticed: the test cannot see the bug"
        assert doubled == []
        assert compare(runner, runner.rebuild()) != []
    finally:
        system.close()
