"""The table helper and the batched `apply` of the read models, on an in-memory SQLite
database (the same code runs on PostgreSQL in tests/integration/test_projections.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from domain.charts.aggregate import Chart
from domain.errors import DataShredded
from projections.chart_entries import ChartEntries
from projections.chart_index import ChartIndex
from projections.tables import Column, Db, Dialect, Table

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SID = UUID("00000000-0000-4000-8000-000000000001")
TABLE = Table(
    "things",
    (
        Column("id", "text", False),
        Column("on_day", "date"),
        Column("at", "timestamp"),
        Column("flag", "bool"),
        Column("blob", "blob"),
        Column("n", "int"),
    ),
    key="id",
)


@pytest.fixture
def db() -> Iterator[Db]:
    datastore = SQLiteDatastore(f"file:{uuid4().hex}?mode=memory&cache=shared")
    yield Db(datastore, Dialect(postgres=False))
    datastore.close()


def test_values_round_trip_as_python_values(db: Db) -> None:
    db.create([TABLE])
    row = {"id": "a", "on_day": date(2025, 1, 2), "flag": True, "blob": b"\x00\x01", "n": 7,
           "at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))}  # fmt: skip
    with db.transaction() as tx:
        tx.insert(TABLE, [row])
    with db.read() as tx:
        (back,) = tx.rows(TABLE)
    assert back == {**row, "at": datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)}


def test_times_order_correctly_as_sqlite_text(db: Db) -> None:
    db.create([TABLE])
    times = [NOW + timedelta(microseconds=1), NOW, NOW - timedelta(days=400)]
    with db.transaction() as tx:
        tx.insert(TABLE, [{"id": str(i), "at": t} for i, t in enumerate(times)])
    with db.read() as tx:
        assert [r["at"] for r in tx.rows(TABLE, order_by="at")] == sorted(times)


def test_upsert_replaces_and_delete_removes(db: Db) -> None:
    db.create([TABLE])
    with db.transaction() as tx:
        tx.upsert(TABLE, [{"id": "a", "n": 1}, {"id": "b", "n": 2}])
        tx.upsert(TABLE, [{"id": "a", "n": 3}])
        tx.delete(TABLE, ["b"])
    with db.read() as tx:
        assert [(r["id"], r["n"]) for r in tx.rows(TABLE)] == [("a", 3)]


def test_get_many_reads_more_keys_than_one_chunk(db: Db) -> None:
    db.create([TABLE])
    with db.transaction() as tx:
        tx.insert(TABLE, [{"id": f"k{i}", "n": i} for i in range(1200)])
    with db.read() as tx:
        found = tx.get_many(TABLE, [f"k{i}" for i in range(0, 1200, 2)] + ["missing"])
    assert len(found) == 600 and found["k10"]["n"] == 10


def test_prefix_must_be_a_plain_name(db: Db) -> None:
    with pytest.raises(ValueError):
        db.with_prefix('rm"; DROP TABLE x; --')


def test_postgres_statements_are_schema_qualified() -> None:
    statement = Dialect(postgres=True, schema="agency 7").compose(
        "SELECT 1 FROM {t} WHERE a = %s", t=Dialect(True, "agency 7").ident("rm_x")
    )
    assert statement.as_string(None) == 'SELECT 1 FROM "agency 7"."rm_x" WHERE a = %s'


def test_fold_apply_updates_rows_in_one_batch(db: Db) -> None:
    index = ChartIndex()
    db.create(index.tables)
    chart = Chart.open("SQ-7F3K-Q9XM", SID, date(2025, 1, 7))
    with db.transaction() as tx:
        index.apply(chart.collect_events(), tx)
    chart.record_entry(uuid4(), "C-1", True, "assessment", None, date(2025, 1, 8), "n", NOW)
    chart.close(date(2025, 3, 1), "C-1")
    with db.transaction() as tx:
        index.apply(chart.collect_events(), tx)
    row = index.by_pseudonym(db, "SQ-7F3K-Q9XM")
    assert row is not None
    assert (row["status"], row["entry_count"]) == ("closed", 1)


# -- chart notes are sealed; a shredded subject's notes read as None ----------------------
class FakeSealer:
    """Reversible stand-in for the keyring sealer; `shredded` subjects fail to unseal."""

    def __init__(self) -> None:
        self.shredded: set[UUID] = set()

    def seal(self, subject_id: UUID, plaintext: bytes, aad: bytes) -> bytes:
        return (
            subject_id.bytes
            + len(aad).to_bytes(2, "big")
            + aad
            + bytes(b ^ 0x5A for b in plaintext)
        )

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        if UUID(bytes=sealed[:16]) in self.shredded:
            raise DataShredded("shredded")
        size = int.from_bytes(sealed[16:18], "big")
        assert sealed[18 : 18 + size] == aad
        return bytes(b ^ 0x5A for b in sealed[18 + size :])


def chart_with_entry(note: str) -> Chart:
    chart = Chart.open("SQ-7F3K-Q9XM", SID, date(2025, 1, 7))
    chart.record_entry(uuid4(), "C-1", True, "assessment", None, date(2025, 1, 8), note, NOW)
    return chart


def test_chart_note_and_codes_are_stored_sealed_and_read_in_clear(db: Db) -> None:
    """A service code can be 42 CFR Part 2 information: sealed with the note."""
    sealer = FakeSealer()
    entries = ChartEntries(sealer.seal, sealer.unseal)
    db.create(entries.tables)
    chart = Chart.open("SQ-7F3K-Q9XM", SID, date(2025, 1, 7))
    chart.record_entry(uuid4(), "C-1", True, "assessment", "H0001", date(2025, 1, 8), "zebra note",
                       NOW)
    with db.transaction() as tx:
        entries.apply(chart.collect_events(), tx)
        stored = tx.execute("SELECT * FROM {t}", t=entries.tables[0])
    cells = repr(stored[0])
    assert "zebra note" not in cells and "H0001" not in cells and "assessment" not in cells
    (entry,) = entries.entries(db, "SQ-7F3K-Q9XM")
    assert (entry["note"], entry["note_shredded"], entry["author"]) == ("zebra note", False, "C-1")
    assert (entry["activity_type"], entry["service_code"]) == ("assessment", "H0001")


def test_entries_recorded_in_a_later_batch_find_their_chart(db: Db) -> None:
    sealer = FakeSealer()
    entries = ChartEntries(sealer.seal, sealer.unseal)
    db.create(entries.tables)
    chart = Chart.open("SQ-7F3K-Q9XM", SID, date(2025, 1, 7))
    with db.transaction() as tx:
        entries.apply(chart.collect_events(), tx)
    chart.record_entry(uuid4(), "C-1", True, "assessment", None, date(2025, 1, 8), "later", NOW)
    with db.transaction() as tx:
        entries.apply(chart.collect_events(), tx)
    assert [e["note"] for e in entries.entries(db, "SQ-7F3K-Q9XM")] == ["later"]


def test_shredded_subject_notes_read_as_none_with_a_flag(db: Db) -> None:
    sealer = FakeSealer()
    entries = ChartEntries(sealer.seal, sealer.unseal)
    db.create(entries.tables)
    with db.transaction() as tx:
        entries.apply(chart_with_entry("zebra note").collect_events(), tx)
    sealer.shredded.add(SID)
    (entry,) = entries.entries(db, "SQ-7F3K-Q9XM")
    assert (entry["note"], entry["note_shredded"]) == (None, True)


def test_forget_subject_deletes_its_rows(db: Db) -> None:
    sealer = FakeSealer()
    entries = ChartEntries(sealer.seal, sealer.unseal)
    db.create(entries.tables)
    with db.transaction() as tx:
        entries.apply(chart_with_entry("zebra note").collect_events(), tx)
        entries.forget_subject(SID, tx)
    with db.read() as tx:
        assert [tx.rows(t) for t in entries.tables] == [[], []]
