"""Charts through the encrypted store on SQLite and PostgreSQL: every event class
round-trips, note text never reaches storage in plaintext, and shredding the subject's
keys makes its chart unreadable."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from domain.charts import Chart, ChartsApplication, chart_uuid
from domain.errors import DataShredded
from ops.bootstrap import System
from tests import canaries

P = "SQ-ST0R-E9XM"
SUBJECT = UUID("5f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")
NOTE = "Client described the Vantablack Orchard eviction in detail."
CORRECTION = "Correction: the Vantablack Orchard hearing is on Friday."
REOPEN_REASON = "returned after the Kestrelmoor relapse"
canaries.plant(NOTE, CORRECTION, REOPEN_REASON)
AT = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)


def chart_with_every_event(system: System) -> ChartsApplication:
    """Opened, EntryRecorded (plain and correcting), Closed and Reopened."""
    app = ChartsApplication(system.infrastructure)
    app.open(P, SUBJECT, date(2024, 3, 1))
    first, _ = app.add_entry(
        P, "S-1", True, "individual_session", "90837", date(2024, 3, 10), NOTE, AT
    )
    app.add_entry(
        P, "S-2", True, "peer_support", None, date(2024, 3, 10), CORRECTION, AT, corrects=first
    )
    app.close_chart(P, date(2024, 6, 30), "DIR-1")
    app.reopen(P, date(2024, 9, 1), "DIR-1", REOPEN_REASON)
    return app


def test_every_event_round_trips_through_a_fresh_application(system: System) -> None:
    written = chart_with_every_event(system).get(P)
    fresh = ChartsApplication(system.infrastructure).get(P)
    assert fresh == written
    assert isinstance(fresh, Chart) and fresh.version == 5
    assert [e.note for e in fresh.entries] == [NOTE, CORRECTION]
    assert fresh.current_entries()[0].corrects == fresh.entries[0].entry_id
    assert fresh.closures[0]["reopen_reason"] == REOPEN_REASON
    assert fresh.status == "open" and fresh.subject_id == SUBJECT


def test_stored_state_holds_no_note_text(system: System) -> None:
    chart_with_every_event(system)
    rows = system.infrastructure.recorder.select_events(chart_uuid(P))
    assert len(rows) == 5
    for row in rows:
        state = bytes(row.state)
        for plaintext in ("Vantablack", "Kestrelmoor", "individual_session", P):
            assert plaintext.encode() not in state
            assert plaintext.encode("utf-16-le") not in state


def test_as_of_reads_back_through_the_store(system: System) -> None:
    app = chart_with_every_event(system)
    closed = app.get(P, version=4)
    closed_at = closed.modified_on
    fresh = ChartsApplication(system.infrastructure)
    assert fresh.as_of(P, closed_at) == fresh.get(P, version=4)
    assert fresh.as_of(P, closed_at).status == "closed"


def test_shredding_the_subject_makes_its_chart_unreadable(system: System) -> None:
    chart_with_every_event(system)
    assert system.keyring.shred(SUBJECT, "retention period ended") >= 1
    with pytest.raises(DataShredded):
        ChartsApplication(system.infrastructure).get(P)


def test_concurrent_appends_to_one_chart_all_land(system) -> None:  # type: ignore[no-untyped-def]
    import threading
    from datetime import UTC, date, datetime
    from uuid import uuid4

    from domain.charts.application import ChartsApplication

    charts = ChartsApplication(system.infrastructure)
    charts.open("SQ-RACE-0001", uuid4(), date(2024, 1, 1))
    ids: list[object] = []
    barrier = threading.Barrier(24)

    def append() -> None:
        barrier.wait()
        entry_id, _ = ChartsApplication(system.infrastructure).add_entry(
            "SQ-RACE-0001", "C-1", True, "individual_session", None, date(2024, 2, 1),
            "race note", datetime.now(UTC))
        ids.append(entry_id)

    threads = [threading.Thread(target=append) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chart = charts.get("SQ-RACE-0001")
    assert sorted(map(str, ids)) == sorted(str(e.entry_id) for e in chart.entries)
    assert len(chart.entries) == 24


def test_the_current_chart_follows_writes_from_elsewhere(system: System) -> None:
    reader = chart_with_every_event(system)
    first = reader.current(P)
    assert first == reader.get(P)
    writer = ChartsApplication(system.infrastructure)  # another process, in effect
    writer.add_entry(P, "S-1", True, "individual_session", None, date(2024, 9, 2), "later",
                     datetime(2024, 9, 2, 12, tzinfo=UTC))
    later = reader.current(P)
    assert later.version == 6 and later == writer.get(P)
    assert first.version == 5 and len(first.entries) == 2  # a reader's copy never changes
    assert reader.current(P) is later  # nothing new: the decoded chart is reused


def test_the_current_chart_of_a_shredded_subject_is_not_served_from_memory(
    system: System,
) -> None:
    reader = chart_with_every_event(system)
    assert reader.current(P).entries
    assert system.keyring.shred(SUBJECT, "retention period ended") >= 1
    with pytest.raises(DataShredded):
        reader.current(P)
