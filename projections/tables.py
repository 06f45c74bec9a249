"""Read-model tables on SQLite or PostgreSQL, with the SQL written once for both.

Statements are composed with `psycopg.sql` (never f-strings): PostgreSQL gets the composed
statement with schema-qualified identifiers, SQLite the same text with `?` placeholders
(the pattern of `ops.keys.datakeys`). Values cross the boundary through one conversion
per column type, so a row read back is the same Python value on either engine: dates as
`date`, times as UTC `datetime`, booleans as `bool`, blobs as `bytes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from psycopg import sql

from ops.sqltext import serialize_ddl
from projections.codecs import (
    SQLITE_TIME,
    Decoder,
    Encoder,
    copy_rows,
    copyable,
    decoder,
    encoder,
    sqlite_time,
)

#: Column type → (PostgreSQL type, SQLite type).
SQL_TYPES = {
    "text": ("text", "text"),
    "int": ("bigint", "integer"),
    "bool": ("boolean", "integer"),
    "date": ("date", "text"),
    "timestamp": ("timestamptz", "text"),
    "blob": ("bytea", "blob"),
}
__all__ = ["SQLITE_TIME", "Column", "Db", "Dialect", "Table", "Tx"]
#: Rows per `IN (...)` list: well under both engines' parameter limits.
CHUNK = 500
TRACKING_TABLE = "sequester_tracking"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "text"
    nullable: bool = True

    def __post_init__(self) -> None:
        if self.type not in SQL_TYPES:
            raise ValueError(f"unknown column type {self.type!r} for column {self.name}")


@dataclass(frozen=True)
class Table:
    """A read-model table; its stored name is the runner's prefix + `name`. `key`
    identifies a row to `get_many`, `upsert`, `delete` and comparisons; the stored
    primary key is `key`, or the columns of `primary` where given (which must then
    identify a row just as well)."""

    name: str
    columns: tuple[Column, ...]
    key: str
    indexes: tuple[str, ...] = ()
    primary: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(c.type for c in self.columns)


class Datastore(Protocol):
    """The eventsourcing datastore of the shared recorder (SQLite or PostgreSQL)."""

    def transaction(self, *, commit: bool) -> AbstractContextManager[Any]: ...


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines: placeholders, qualification, value types."""

    postgres: bool
    schema: str = "public"

    def ident(self, name: str) -> sql.Composable:
        if self.postgres:
            return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))
        return sql.Identifier(name)

    def compose(self, template: str, **parts: sql.Composable) -> Any:
        statement = sql.SQL(template).format(**parts)
        if self.postgres:
            return statement
        return statement.as_string(None).replace("%s", "?")

    def column_sql(self, column: Column) -> str:
        engine_type = SQL_TYPES[column.type][0 if self.postgres else 1]
        return f"{column.name} {engine_type}{'' if column.nullable else ' NOT NULL'}"

    def to_db(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, UUID):
            return str(value)
        if self.postgres:
            return value
        if kind == "timestamp":
            return sqlite_time(value)
        if kind == "date":
            return value.isoformat()
        if kind == "bool":
            return int(value)
        return value

    def encoder(self, table: Table) -> Encoder:
        """`to_db` for a whole row of `table`, compiled once (see `projections.codecs`)."""
        return _codecs(self, table)[0]

    def decoder(self, table: Table) -> Decoder:
        """`from_db` for a whole row of `table` (its values in column order)."""
        return _codecs(self, table)[1]

    def from_db(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "timestamp":
            when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return when.astimezone(UTC)
        if kind == "date" and not isinstance(value, date):
            return date.fromisoformat(value)
        if kind == "bool":
            return bool(value)
        if kind == "blob":
            return bytes(value)
        return value


@lru_cache(maxsize=256)
def _codecs(dialect: Dialect, table: Table) -> tuple[Encoder, Decoder]:
    return (
        encoder(dialect.postgres, table.names, table.kinds, dialect.to_db),
        decoder(table.names, table.kinds, dialect.from_db),
    )


def as_dict(row: Any) -> dict[str, Any]:
    """A driver row (psycopg dict, or sqlite3.Row, which has `keys()`) as a plain dict."""
    return dict(row)


class Tx:
    """One open transaction on the read-model tables of one prefix."""

    def __init__(self, cursor: Any, db: Db) -> None:
        self.cursor = cursor
        self.db = db

    def ident(self, table: Table) -> sql.Composable:
        return self.db.dialect.ident(self.db.prefix + table.name)

    def execute(self, template: str, params: Sequence[Any] = (), **tables: Table) -> list[Any]:
        """Run a statement naming tables as `{name}`; returns its rows (dicts), if any."""
        idents = {k: self.ident(t) for k, t in tables.items()}
        self.cursor.execute(self.db.dialect.compose(template, **idents), tuple(params))
        try:
            return [as_dict(r) for r in self.cursor.fetchall() or []]
        except Exception:  # noqa: BLE001 - statements without a result set
            return []

    def rows(
        self, table: Table, where: str = "", params: Sequence[Any] = (), order_by: str = ""
    ) -> list[dict[str, Any]]:
        """Rows of `table` as Python values; `where`/`order_by` are SQL over its columns."""
        template = "SELECT {cols} FROM {t}" + (f" WHERE {where}" if where else "")
        template += f" ORDER BY {order_by or table.key}"
        cols = sql.SQL(", ").join(sql.Identifier(n) for n in table.names)
        statement = self.db.dialect.compose(template, cols=cols, t=self.ident(table))
        self.cursor.execute(statement, tuple(params))
        decode = self.db.dialect.decoder(table)
        if self.db.dialect.postgres:  # dict rows, in the SELECT's column order
            return [decode(list(r.values())) for r in self.cursor.fetchall()]
        return [decode(tuple(r)) for r in self.cursor.fetchall()]

    def get_many(self, table: Table, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The rows whose key is among `keys`, by key."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            for row in self.rows(table, f"{table.key} IN ({marks})", chunk):
                found[row[table.key]] = row
        return found

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new rows (on PostgreSQL with one COPY when the values allow it)."""
        if rows and self.db.dialect.postgres:
            encode = self.db.dialect.encoder(table)
            encoded = [encode(r) for r in rows]
            if copyable(table.kinds, encoded):
                copy_rows(self.cursor, self.ident(table), table.names, table.kinds, encoded)
                return
        self._write(table, rows, "")

    def upsert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert, or replace every column of the row with the same key."""
        updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in table.names if n != table.key)
        self._write(table, rows, f" ON CONFLICT ({table.key}) DO UPDATE SET {updates}")

    def _write(self, table: Table, rows: Sequence[Mapping[str, Any]], suffix: str) -> None:
        if not rows:
            return
        marks = ", ".join(["%s"] * len(table.columns))
        cols = sql.SQL(", ").join(sql.Identifier(n) for n in table.names)
        template = "INSERT INTO {t} ({cols}) VALUES (" + marks + ")" + suffix
        statement = self.db.dialect.compose(template, t=self.ident(table), cols=cols)
        encode = self.db.dialect.encoder(table)
        self.cursor.executemany(statement, [encode(r) for r in rows])

    def delete(self, table: Table, keys: Iterable[str]) -> None:
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            self.execute(f"DELETE FROM {{t}} WHERE {table.key} IN ({marks})", chunk, t=table)


class Db:
    """The read-model tables of one prefix (`rm_`, or `rm_scratch_` for a rebuild)."""

    def __init__(self, datastore: Datastore, dialect: Dialect, prefix: str = "rm_") -> None:
        if prefix and not prefix.replace("_", "").isalnum():
            raise ValueError("a table prefix is letters, digits and underscores")
        self.datastore = datastore
        self.dialect = dialect
        self.prefix = prefix

    def with_prefix(self, prefix: str) -> Db:
        return Db(self.datastore, self.dialect, prefix)

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Tx]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield Tx(cursor, self)

    def read(self) -> AbstractContextManager[Tx]:
        return self.transaction(commit=False)

    def encode(self, table: Table, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return self.dialect.encoder(table)(row)

    def decode(self, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.dialect.decoder(table)([row.get(n) for n in table.names])

    def create(self, tables: Iterable[Table]) -> None:
        with self.transaction() as tx:
            serialize_ddl(tx.cursor, postgres=self.dialect.postgres, schema=self.dialect.schema)
            for table in tables:
                columns = ", ".join(self.dialect.column_sql(c) for c in table.columns)
                primary = ", ".join(table.primary or (table.key,))
                tx.execute(
                    f"CREATE TABLE IF NOT EXISTS {{t}} ({columns}, PRIMARY KEY ({primary}))",
                    t=table,
                )
                for column in table.indexes:
                    index = sql.Identifier(f"{self.prefix}{table.name}_{column}_idx")
                    tx.cursor.execute(
                        self.dialect.compose(
                            f"CREATE INDEX IF NOT EXISTS {{i}} ON {{t}} ({column})",
                            i=index,
                            t=tx.ident(table),
                        )
                    )

    def drop(self, tables: Iterable[Table]) -> None:
        with self.transaction() as tx:
            for table in tables:
                tx.execute("DROP TABLE IF EXISTS {t}", t=table)
