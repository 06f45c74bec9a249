"""One statement text for both engines: `psycopg.sql` composition, schema-qualified
on PostgreSQL, plain text with `?` placeholders on SQLite."""

from __future__ import annotations

from typing import Any

from psycopg import sql


class Dialect:
    def __init__(self, *, postgres: bool, schema: str = "") -> None:
        self.postgres = postgres
        self.schema = schema or "public"

    def table(self, name: str) -> sql.Composable:
        if self.postgres:
            return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))
        return sql.Identifier(name)

    def q(self, template: str, **parts: Any) -> Any:
        """Compose `template` ({name} parts are tables or SQL fragments; values are %s)."""
        statement = sql.SQL(template).format(**parts)
        if self.postgres:
            return statement
        return statement.as_string(None).replace("%s", "?")

    @property
    def blob(self) -> sql.SQL:
        return sql.SQL("bytea" if self.postgres else "blob")

    @property
    def timestamp(self) -> sql.SQL:
        return sql.SQL("timestamptz" if self.postgres else "text")

    def stamp(self, value: Any) -> Any:
        """A datetime as the engine stores it (SQLite: ISO text)."""
        return value if self.postgres or value is None else value.isoformat()


def serialize_ddl(cursor: Any, *, postgres: bool, schema: str) -> None:
    """Take turns at creating tables. PostgreSQL can fail one of two processes that run
    the same `CREATE TABLE IF NOT EXISTS` at once ("tuple concurrently updated"), as API
    workers and the projector do when they start together on a new database. The lock
    is the transaction's, per schema; SQLite already serializes its writers."""
    if postgres:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("sequester-ddl:" + schema,))


def values(row: Any) -> list[Any]:
    """A row as a list, whether the driver returns dicts (psycopg here) or tuples."""
    return list(row.values()) if isinstance(row, dict) else list(row)
