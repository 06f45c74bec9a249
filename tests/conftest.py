"""Shared fixtures: development keys in a temp dir, and systems on each backend.

`system` runs on SQLite and on PostgreSQL (marker `postgres`); under CI=true a
missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from domain.base import KEK_NAMES
from ops.bootstrap import System, build
from ops.keys.kek import FileKeySource
from ops.keys.signing import create_signing_key_file
from ops.keys.tokens import create_token_keys
from ops.logging import configure_logging
from ops.settings import Settings
from tests import canaries

POSTGRES_URL = os.environ.get(
    "SEQUESTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def make_keys(directory: Path) -> Path:
    source = FileKeySource(directory)
    for name in KEK_NAMES:
        material = source.create(name, 1, development=True)
        canaries.plant(base64.b64encode(material.secret).decode())
    create_signing_key_file(directory, "sequester.test/log", development=True)
    create_token_keys(directory)
    return directory


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--crash-trials", type=int, default=None,
        help="SIGKILL trials per backend in tests/crash (default 50, or $SEQUESTER_CRASH_TRIALS)",
    )  # fmt: skip


# -- every log line of the whole run, checked at the end for planted secrets ---------
_LOG = io.StringIO()


def pytest_configure(config: pytest.Config) -> None:
    configure_logging(Settings(log_format="json", log_level="DEBUG"))
    root = logging.getLogger()
    handler = logging.StreamHandler(_LOG)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    text = _LOG.getvalue()
    leaked = sorted(s for s in canaries.SECRETS if s in text)
    if leaked or "PRIVATE+KEY" in text:
        print(f"\nLOG LEAK: {len(leaked)} planted secret(s) reached the logs", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return make_keys(tmp_path / "keys")


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true and is unreachable at {POSTGRES_URL}")
    pytest.skip("PostgreSQL is not reachable (set SEQUESTER_TEST_POSTGRES_URL)")


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A scratch schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def database_url(backend: str, tmp_path: Path, schema: str | None = None) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'sequester.db'}"
    return f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture
def settings_for(key_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(url: str, **overrides: object) -> Settings:
        return Settings(database_url=url, key_dir=key_dir, **overrides)  # type: ignore[arg-type]

    return make


@pytest.fixture
def memory_system(settings_for) -> Iterator[System]:  # type: ignore[no-untyped-def]
    system = build(settings_for("memory://"))
    yield system
    system.close()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database URL of a fresh database on each real backend."""
    if request.param == "sqlite":
        yield database_url("sqlite", tmp_path)
        return
    schema = request.getfixturevalue("postgres_schema")
    yield database_url("postgres", tmp_path, schema)


@pytest.fixture
def system(backend: str, settings_for) -> Iterator[System]:  # type: ignore[no-untyped-def]
    system = build(settings_for(backend))
    yield system
    system.close()
