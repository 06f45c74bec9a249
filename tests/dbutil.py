"""Raw access to the event table, for tests that tamper with storage like an attacker would."""

from __future__ import annotations

from typing import Any

from ops.bootstrap import System


def is_postgres(system: System) -> bool:
    return system.settings.is_postgres


def events_table(system: System) -> str:
    if is_postgres(system):
        schema = system.infrastructure.env["POSTGRES_SCHEMA"]
        return f'"{schema}".sequester_events'
    return "stored_events"


def execute(system: System, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run SQL with `%s` placeholders on the system's own database."""
    datastore = system.infrastructure.recorder.datastore  # type: ignore[attr-defined]
    if not is_postgres(system):
        statement = statement.replace("%s", "?")
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(statement.replace("{events}", events_table(system)), params)
        try:
            rows = cursor.fetchall()
        except Exception:  # noqa: BLE001 - statements without results
            return []
    return [list(r.values()) if isinstance(r, dict) else list(r) for r in rows or []]


def id_column(system: System) -> str:
    """SQLite's application recorder uses the rowid as the notification id."""
    return "notification_id" if is_postgres(system) else "rowid"


def rows(system: System) -> list[list[Any]]:
    """(originator_id, originator_version, topic, state, notification_id) in log order."""
    column = id_column(system)
    return execute(
        system,
        f"SELECT originator_id, originator_version, topic, state, {column} "
        f"FROM {{events}} ORDER BY {column}",
    )


def set_state(system: System, notification_id: int, state: bytes) -> None:
    execute(
        system,
        f"UPDATE {{events}} SET state = %s WHERE {id_column(system)} = %s",
        (state, notification_id),
    )


def all_cells(system: System) -> list[str]:
    """Every cell of every table in the system's database, as a reader of a dump without
    keys sees it (bytes read as latin-1, so text in clear inside a blob shows too)."""
    if is_postgres(system):
        schema = system.infrastructure.env["POSTGRES_SCHEMA"]
        tables = [f'"{schema}"."{r[0]}"' for r in execute(
            system, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))]
    else:
        tables = [f'"{r[0]}"' for r in execute(
            system, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    cells = []
    for table in tables:
        for row in execute(system, f"SELECT * FROM {table}"):
            cells += [bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                      for v in row]
    return cells
