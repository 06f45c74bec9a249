"""Row conversions and bulk writes for `projections.tables`, compiled once per table.

`Dialect.to_db`/`from_db` say what a value becomes on each engine, one cell at a time;
a rebuild converts millions of cells, so these do the same per row: the columns that
need a conversion are found once per table, and a row whose values are all of the
plain types (str, int, bool, float, bytes, date, datetime, None) converts only those
columns. Any other value (a UUID, a subclass, …) takes the cell-by-cell path, so
the result is always exactly `to_db`'s.

On PostgreSQL, `copy_rows` writes plain inserts with one binary `COPY` instead of one
`INSERT` per row, when every value already has the exact Python type of its column
(so the stored values are the ones `INSERT` would store); otherwise the caller inserts
as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from psycopg import sql

#: The fixed-width UTC text form SQLite stores times in (it orders as text).
SQLITE_TIME = "%Y-%m-%dT%H:%M:%S.%f+00:00"
_PLAIN = frozenset({str, int, bool, float, bytes, date, datetime, type(None)})
#: Column type → the PostgreSQL type `COPY … (FORMAT BINARY)` is told, and the exact
#: Python types whose binary form is what `INSERT` of that value would store.
_COPY_TYPES: dict[str, tuple[str, frozenset[type]]] = {
    "text": ("text", frozenset({str})),
    "int": ("int8", frozenset({int})),
    "bool": ("bool", frozenset({bool})),
    "date": ("date", frozenset({date})),
    "timestamp": ("timestamptz", frozenset({datetime})),
    "blob": ("bytea", frozenset({bytes})),
}
_NONE = type(None)

Encoder = Callable[[Mapping[str, Any]], tuple[Any, ...]]
Decoder = Callable[[Sequence[Any]], dict[str, Any]]


def sqlite_time(value: datetime) -> str:
    """`value` in UTC as SQLITE_TIME text (`isoformat` gives the same text, faster)."""
    utc = value.astimezone(UTC)
    if utc.year >= 1000 and type(utc) is datetime:
        return utc.isoformat(timespec="microseconds")
    return utc.strftime(SQLITE_TIME)


def _sqlite_converter(kind: str) -> Callable[[Any], Any] | None:
    """`to_db` on SQLite for a non-None, non-UUID value of column type `kind`."""
    if kind == "timestamp":
        return sqlite_time
    if kind == "date":
        return lambda value: value.isoformat()
    if kind == "bool":
        return int
    return None


def encoder(
    postgres: bool, names: tuple[str, ...], kinds: tuple[str, ...], to_db: Callable[[str, Any], Any]
) -> Encoder:
    """row → the tuple of stored values, in column order (as `to_db` cell by cell)."""
    converters = [] if postgres else [
        (i, conv) for i, kind in enumerate(kinds) if (conv := _sqlite_converter(kind))
    ]  # fmt: skip
    plain = _PLAIN.issuperset

    def encode(row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(map(row.get, names))
        if not plain(map(type, values)):
            return tuple(map(to_db, kinds, values))
        for i, convert in converters:
            if (value := values[i]) is not None:
                values[i] = convert(value)
        return tuple(values)

    return encode


def decoder(names: tuple[str, ...], kinds: tuple[str, ...], from_db: Callable[[str, Any], Any]) -> Decoder:
    """Stored values in column order → the row of Python values (as `from_db`)."""
    converted = [(i, kind) for i, kind in enumerate(kinds) if kind not in ("text", "int")]

    def decode(values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(names, values, strict=True))
        for i, kind in converted:
            if (value := values[i]) is not None:
                row[names[i]] = from_db(kind, value)
        return row

    return decode


def copyable(kinds: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> bool:
    """Whether every value has the exact type binary COPY stores as INSERT would: str
    for text, int for bigint, …, and aware datetimes only (a naive one INSERT would
    read in the session's time zone)."""
    for kind, column in zip(kinds, zip(*rows, strict=True), strict=True):
        types = set(map(type, column)) - {_NONE}
        if not types <= _COPY_TYPES[kind][1]:
            return False
        if kind == "timestamp" and any(v.utcoffset() is None for v in column if v is not None):
            return False
    return True


def copy_rows(
    cursor: Any, table: sql.Composable, names: tuple[str, ...], kinds: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:  # fmt: skip
    """Insert encoded rows with one binary COPY (PostgreSQL; check `copyable` first)."""
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    statement = sql.SQL("COPY {t} ({cols}) FROM STDIN (FORMAT BINARY)").format(
        t=table, cols=columns
    )
    with cursor.copy(statement) as copy:
        copy.set_types([_COPY_TYPES[kind][0] for kind in kinds])
        for row in rows:
            copy.write_row(row)
