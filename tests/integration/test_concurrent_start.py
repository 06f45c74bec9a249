"""Processes that start together on a new PostgreSQL database (API workers and the
projector, after a deploy) all come up: creating the tables takes turns."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ops.bootstrap import build
from ops.settings import Settings
from tests.conftest import POSTGRES_URL, require_postgres

STARTERS = 4
ROUNDS = 5


@pytest.mark.postgres
def test_starting_together_on_a_new_database(key_dir: Path) -> None:
    require_postgres()
    failures: list[BaseException] = []
    for _ in range(ROUNDS):
        schema = f"t_{uuid.uuid4().hex[:12]}"
        settings = Settings(database_url=f"{POSTGRES_URL}?schema={schema}", key_dir=key_dir)
        barrier = threading.Barrier(STARTERS)

        def start(barrier: threading.Barrier = barrier, settings: Settings = settings) -> None:
            barrier.wait()
            try:
                build(settings).close()
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                failures.append(e)

        threads = [threading.Thread(target=start) for _ in range(STARTERS)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    assert [f"{type(f).__name__}: {f}" for f in failures] == []
