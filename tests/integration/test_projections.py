"""The projection runner and the read models on SQLite and PostgreSQL: rows, exactly-once,
rollback of a failing batch, read-your-writes, rebuild-and-compare, shredding."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest

from domain.subjects.subject import subject_uuid
from ops.bootstrap import System
from projections.audit import audit_rebuild, compare
from projections.base import Event
from projections.chart_index import ChartIndex
from projections.runner import ProjectionFailed, ProjectionRunner, TrackingConflict
from projections.tables import Tx
from tests import dbutil
from tests.projection_data import (
    BIRTH_DATE,
    LEGAL_NAME,
    NOTE,
    NOW,
    Written,
    bulk_charts,
    clinical_history,
    models,
)


def runner_for(system: System, **kwargs: Any) -> ProjectionRunner:
    return ProjectionRunner(system, models(system), **kwargs)


def model(runner: ProjectionRunner, name: str) -> Any:
    return next(p for p in runner.projections if p.name == name)


def all_cells(system: System, runner: ProjectionRunner) -> list[str]:
    cells = []
    for p in runner.projections:
        with runner.db.read() as tx:
            for table in p.tables:
                for row in tx.execute("SELECT * FROM {t}", t=table):
                    cells += [v.hex() if isinstance(v, bytes | memoryview) else str(v)
                              for v in (bytes(x) if isinstance(x, memoryview) else x
                                        for x in row.values())]  # fmt: skip
    return cells


@pytest.fixture
def history(system: System) -> Written:
    return clinical_history(system)


def test_read_models_hold_the_written_facts(system: System, history: Written) -> None:
    runner = runner_for(system)
    runner.catch_up()
    db, p = runner.db, history.pseudonyms[0]
    subject = model(runner, "subject_list_v2").by_pseudonym(db, p)
    assert (subject["category"], subject["group_count"], subject["clinician_count"]) == (
        "employee", 1, 1,
    )  # fmt: skip
    chart = model(runner, "chart_index").by_pseudonym(db, p)
    assert (chart["status"], chart["closed_on"], chart["entry_count"]) == (
        "closed", date(2025, 3, 1), 2,
    )  # fmt: skip
    notes = [e["note"] for e in model(runner, "chart_entries_v2").entries(db, p)]
    assert notes == [NOTE, "corrected"]
    (case,) = model(runner, "dual_relationship_queue_v2").queue(db, date(2024, 3, 20))
    assert (case["current_step"], case["overdue"], case["age_days"]) == ("recommendation", True, 29)
    assert [b["clinician"] for b in model(runner, "break_glass_queue").pending(db)] == ["C-4"]


def test_effective_access_lists_live_grants_only(system: System, history: Written) -> None:
    runner = runner_for(system)
    runner.catch_up()
    access, p = model(runner, "effective_access_v2"), history.pseudonyms[0]
    assert [g["grantee"] for g in access.for_chart(runner.db, p, NOW)] == ["C-2"]
    assert [g["pseudonym"] for g in access.for_principal(runner.db, "C-2", NOW)] == [p]
    assert access.for_principal(runner.db, "C-3", NOW) == []  # revoked
    assert access.for_principal(runner.db, "C-6", NOW) == []  # not confirmed
    assert [g["grantee"] for g in access.pending(runner.db, NOW)] == ["C-6"]
    assert access.for_chart(runner.db, p, NOW + timedelta(days=31)) == []  # expired


def test_no_identity_or_note_reaches_a_read_model_table(system: System, history: Written) -> None:
    runner = runner_for(system)
    runner.catch_up()
    cells = "\n".join(all_cells(system, runner))
    link = system.subjects.link_of("S-100")
    for secret in (LEGAL_NAME, BIRTH_DATE.isoformat(), link, NOTE, "S-100"):
        assert secret not in cells
        assert secret.encode().hex() not in cells


def counts(runner: ProjectionRunner) -> dict[str, int]:
    with runner.db.read() as tx:
        return {
            t.name: len(tx.execute("SELECT 1 FROM {t}", t=t))
            for p in runner.projections
            for t in p.tables
        }


def test_running_again_changes_nothing(system: System, history: Written) -> None:
    runner = runner_for(system)
    runner.catch_up()
    before = counts(runner)
    assert runner.run_once() == 0
    assert runner_for(system).catch_up() == 0  # a second worker finds nothing to do
    assert counts(runner) == before
    assert set(runner.positions().values()) == {history.position}


def test_a_stale_delivery_is_refused_and_rolled_back(system: System, history: Written) -> None:
    runner = runner_for(system)
    runner.catch_up()
    before = counts(runner)
    notes = system.infrastructure.recorder.select_notifications(start=1, limit=1000)
    decoded = runner._decode(notes, set(model(runner, "chart_entries_v2").topics))
    with pytest.raises(TrackingConflict):
        runner._apply(model(runner, "chart_entries_v2"), 0, notes[-1].id, decoded)
    assert counts(runner) == before


class Exploding(ChartIndex):
    """Writes through the real projection, then fails: the whole batch must roll back."""

    armed = True

    def apply(self, batch: Sequence[Event], tx: Tx) -> None:
        super().apply(batch, tx)
        if self.armed:
            raise RuntimeError("injected failure")


def test_a_failing_batch_leaves_no_rows_and_no_position(system: System, history: Written) -> None:
    projections = models(system)
    projections[1] = exploding = Exploding()  # in place of chart_index
    runner = ProjectionRunner(system, projections)
    with pytest.raises(ProjectionFailed) as failed:
        runner.run_once()
    assert set(failed.value.failures) == {"chart_index"}
    assert runner.position("chart_index") == 0
    assert counts(runner)["chart_index"] == 0
    assert runner.position("subject_list_v2") == history.position  # the others went on
    exploding.armed = False
    runner.catch_up()
    assert counts(runner)["chart_index"] == 1
    row = exploding.by_pseudonym(runner.db, history.pseudonyms[0])
    assert row is not None and row["entry_count"] == 2


def test_wait_is_bounded_before_and_true_after(system: System, history: Written) -> None:
    runner = runner_for(system)
    started = time.monotonic()
    assert runner.wait(history.position, timeout=0.3) is False
    assert time.monotonic() - started < 1.5
    runner.catch_up()
    assert runner.wait(history.position, timeout=0.3) is True


def test_run_forever_serves_read_your_writes(system: System) -> None:
    runner = runner_for(system, batch_size=7)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run_forever, args=(stop, 0.05))
    worker.start()
    try:
        written = clinical_history(system)
        assert runner.wait(written.position, timeout=10)
        assert model(runner, "subject_list_v2").by_pseudonym(runner.db, written.pseudonyms[0])
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_rebuild_from_zero_equals_live(system: System, history: Written) -> None:
    bulk_charts(system, 3, 40)
    runner = runner_for(system, batch_size=25)
    runner.catch_up()
    scratch = runner.rebuild("rm_scratch_")
    assert compare(runner, scratch) == []
    assert audit_rebuild(runner) == []


def test_compare_names_table_key_and_column(system: System, history: Written) -> None:
    runner = runner_for(system)
    runner.catch_up()
    scratch = runner.rebuild()
    chart = model(runner, "chart_index").by_pseudonym(runner.db, history.pseudonyms[0])
    with runner.db.transaction() as tx:
        tx.execute("UPDATE {t} SET entry_count = 99", t=model(runner, "chart_index").table)
    assert compare(runner, scratch) == [
        f"rm_chart_index key={chart['chart_id']} column=entry_count"
    ]


def test_shredded_subject_is_skipped_and_forgotten(system: System, history: Written) -> None:
    other = bulk_charts(system, 1, 3)
    runner = runner_for(system)
    runner.catch_up()
    shredded = subject_uuid(history.pseudonyms[0])
    system.keyring.shred(shredded, "retention period ended")
    entries = model(runner, "chart_entries_v2").entries(runner.db, history.pseudonyms[0])
    assert [(e["note"], e["note_shredded"]) for e in entries] == [(None, True)] * 2
    runner.forget_subject(shredded)
    cells = all_cells(system, runner)
    assert str(shredded) not in cells and history.pseudonyms[0] not in cells
    assert other.pseudonyms[0] in cells
    scratch = runner.rebuild()
    assert scratch.shredded_skipped > 0
    assert compare(runner, scratch) == []


def test_views_live_beside_the_events(system: System, history: Written) -> None:
    runner_for(system).catch_up()
    schema = (
        f'"{system.infrastructure.env["POSTGRES_SCHEMA"]}".' if dbutil.is_postgres(system) else ""
    )
    rows = dbutil.execute(system, f"SELECT projection, position FROM {schema}sequester_tracking")
    assert sorted(rows) == sorted([f"rm_{p.name}", history.position] for p in models(system))


def test_two_workers_at_once_apply_each_batch_once(system: System, history: Written) -> None:
    bulk_charts(system, 2, 60)
    runners = [runner_for(system, batch_size=10) for _ in range(2)]
    errors: list[BaseException] = []

    def work(runner: ProjectionRunner) -> None:
        try:
            runner.catch_up()
        except BaseException as e:  # noqa: BLE001 - asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    runners[0].catch_up()
    assert compare(runners[0], runners[0].rebuild()) == []


def test_rebuild_in_processes_equals_live_and_a_single_rebuild(
    system: System, history: Written
) -> None:
    bulk_charts(system, 6, 15)
    live = system.projections
    assert live is not None and live.reopen is not None
    live.catch_up()
    scratch = live.rebuild("rm_parts_", batch_size=20, processes=3)
    assert compare(live, scratch) == []
    assert set(scratch.positions().values()) == set(live.positions().values())
    rows = dbutil.execute(system, f"SELECT projection FROM {tracking_table(system)}")
    assert not [r for (r,) in rows if "#" in r], "the shares' tracking rows are gone"
    scratch.drop()


def test_a_failed_rebuild_process_fails_the_rebuild_and_leaves_nothing(
    system: System, history: Written, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = system.projections
    assert live is not None
    live.catch_up()

    def broken_reopen() -> ProjectionRunner:
        raise RuntimeError("no database for this child")

    monkeypatch.setattr(live, "reopen", broken_reopen)
    with pytest.raises(ProjectionFailed) as failed:
        live.rebuild("rm_parts_", processes=2)
    assert str(failed.value.failures["chart_entries_v2"]) == (
        "rebuild process(es) rebuild-0, rebuild-1 failed")
    rows = dbutil.execute(system, f"SELECT projection FROM {tracking_table(system)}")
    assert not [r for (r,) in rows if r.startswith("rm_parts_")]


def tracking_table(system: System) -> str:
    if dbutil.is_postgres(system):
        return f'"{system.infrastructure.env["POSTGRES_SCHEMA"]}".sequester_tracking'
    return "sequester_tracking"
