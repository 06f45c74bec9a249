"""Refuse to start on storage settings that can lose an acknowledged write.

SQLite must journal in WAL mode with `synchronous` FULL (or EXTRA); PostgreSQL must have
`fsync` and `synchronous_commit` on. The message names the setting and how to fix it.
"""

from __future__ import annotations

from typing import Any

from domain.errors import Unavailable

SQLITE_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


class UnsafeStorage(Unavailable):
    kind = "UnsafeStorage"


def check_sqlite(cursor: Any) -> None:
    cursor.execute("PRAGMA journal_mode")
    mode = str(_first(cursor.fetchone())).lower()
    if mode != "wal":
        raise UnsafeStorage(f"SQLite journal_mode is {mode!r}: sequester needs 'wal'")
    cursor.execute("PRAGMA synchronous")
    level = int(_first(cursor.fetchone()))
    if level < 2:
        raise UnsafeStorage(
            f"SQLite synchronous is {SQLITE_SYNCHRONOUS.get(level, level)}: an acknowledged "
            "write could be lost on power failure; sequester needs FULL"
        )


def check_postgres(cursor: Any) -> None:
    for setting in ("fsync", "synchronous_commit"):
        cursor.execute(f"SHOW {setting}")  # a fixed name, not input
        value = str(_first(cursor.fetchone())).lower()
        if value in ("off", "false", "0"):
            raise UnsafeStorage(
                f"PostgreSQL {setting} is {value}: an acknowledged write could be lost; "
                f"set {setting} = on"
            )


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def check(recorder: Any, *, postgres: bool) -> None:
    with recorder.datastore.transaction(commit=False) as cursor:
        (check_postgres if postgres else check_sqlite)(cursor)
