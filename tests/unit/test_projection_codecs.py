"""The compiled row conversions equal `Dialect.to_db`/`from_db` cell by cell, on both
engines, for every column type and for values of unexpected types; and `copyable`
admits only rows whose binary COPY stores what INSERT stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.codecs import SQLITE_TIME, copyable, sqlite_time
from projections.tables import Column, Dialect, Table

KINDS = ("text", "int", "bool", "date", "timestamp", "blob")
TABLE = Table("t", tuple(Column(f"c_{k}", k) for k in KINDS), key="c_text")
DIALECTS = (Dialect(postgres=False), Dialect(postgres=True, schema="s"))

aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]),
)  # fmt: skip
VALUES: dict[str, Any] = {
    "text": st.one_of(st.none(), st.text(max_size=5), st.uuids()),
    "int": st.one_of(st.none(), st.integers(), st.booleans()),
    "bool": st.one_of(st.none(), st.booleans()),
    "date": st.one_of(st.none(), st.dates()),
    "timestamp": st.one_of(st.none(), aware),
    "blob": st.one_of(st.none(), st.binary(max_size=5)),
}
rows = st.fixed_dictionaries({f"c_{k}": VALUES[k] for k in KINDS})


@pytest.mark.parametrize("dialect", DIALECTS, ids=["sqlite", "postgres"])
@settings(deadline=None)
@given(row=rows)
def test_encoder_equals_to_db_cell_by_cell(dialect: Dialect, row: dict[str, Any]) -> None:
    expected = tuple(dialect.to_db(c.type, row.get(c.name)) for c in TABLE.columns)
    assert dialect.encoder(TABLE)(row) == expected


@pytest.mark.parametrize("dialect", DIALECTS, ids=["sqlite", "postgres"])
def test_unusual_values_take_the_cell_by_cell_path(dialect: Dialect) -> None:
    row = {"c_text": UUID(int=5), "c_int": Decimal("1.5"), "c_blob": bytearray(b"x")}
    expected = tuple(dialect.to_db(c.type, row.get(c.name)) for c in TABLE.columns)
    assert dialect.encoder(TABLE)(row) == expected == (str(UUID(int=5)), Decimal("1.5"),
                                                       None, None, None, bytearray(b"x"))  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS, ids=["sqlite", "postgres"])
@settings(deadline=None)
@given(row=rows)
def test_decoder_equals_from_db_cell_by_cell(dialect: Dialect, row: dict[str, Any]) -> None:
    at = row["c_timestamp"]
    if at is not None and at.astimezone(UTC).year < 1000:  # SQLite never read those back
        row["c_timestamp"] = None
    stored = dialect.encoder(TABLE)(row)
    expected = {c.name: dialect.from_db(c.type, v) for c, v in zip(TABLE.columns, stored, strict=True)}
    assert dialect.decoder(TABLE)(stored) == expected


@settings(deadline=None)
@given(when=aware)
def test_sqlite_time_is_the_strftime_form(when: datetime) -> None:
    assert sqlite_time(when) == when.astimezone(UTC).strftime(SQLITE_TIME)


def test_sqlite_time_before_year_1000_keeps_strftime() -> None:
    when = datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=UTC)
    assert sqlite_time(when) == when.strftime(SQLITE_TIME)


KINDS_OF_COPY = ("text", "int", "bool", "date", "timestamp", "blob")
AT = datetime(2025, 1, 2, tzinfo=UTC)


def test_copyable_takes_exact_types_and_nulls() -> None:
    good = [("a", 1, True, date(2025, 1, 2), AT, b"x"), (None,) * 6]
    assert copyable(KINDS_OF_COPY, good)


@pytest.mark.parametrize(
    ("column", "value"),
    [(0, UUID(int=1)), (0, 5), (1, True), (1, "5"), (2, 1), (3, AT), (3, "2025-01-02"),
     (4, datetime(2025, 1, 2)), (4, date(2025, 1, 2)), (5, bytearray(b"x")), (5, "x")],
)  # fmt: skip
def test_copyable_refuses_anything_else(column: int, value: Any) -> None:
    row = ["a", 1, True, date(2025, 1, 2), AT, b"x"]
    row[column] = value
    assert not copyable(KINDS_OF_COPY, [("b", 2, False, None, None, None), tuple(row)])
