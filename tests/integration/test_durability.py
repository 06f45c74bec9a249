"""Storage settings that can lose an acknowledged write are refused at start-up."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ops.bootstrap import build
from ops.durability import UnsafeStorage, check_sqlite
from tests.conftest import POSTGRES_URL, require_postgres


def test_sqlite_defaults_are_accepted(tmp_path: Path, settings_for) -> None:  # type: ignore[no-untyped-def]
    build(settings_for(f"sqlite:///{tmp_path / 'ok.db'}")).close()


def test_sqlite_with_synchronous_off_is_refused_naming_it(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "unsafe.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with pytest.raises(UnsafeStorage, match="SQLite synchronous is OFF"):
        check_sqlite(conn.cursor())
    conn.execute("PRAGMA synchronous=FULL")
    check_sqlite(conn.cursor())


def test_sqlite_outside_wal_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "delete.db")
    conn.execute("PRAGMA journal_mode=DELETE")
    with pytest.raises(UnsafeStorage, match="journal_mode is 'delete'"):
        check_sqlite(conn.cursor())


@pytest.mark.postgres
def test_postgres_with_synchronous_commit_off_refuses_to_start(settings_for) -> None:  # type: ignore[no-untyped-def]
    require_postgres()
    name = f"seq_unsafe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name)))
    try:
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        with pytest.raises(UnsafeStorage, match="PostgreSQL synchronous_commit is off"):
            build(settings_for(url))
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
