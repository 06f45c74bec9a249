"""Fixtures for the fault tests: a scratch schema on the shared PostgreSQL with the
tables created up front (so concurrently started processes never race to create them),
a private PostgreSQL cluster a test may stop, and the processes a test starts."""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.bootstrap import System, build
from ops.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.faults.processes import SMALL_POOL, Fleet, PrivatePostgres, postgres_bin


@pytest.fixture
def shared_db(postgres_schema: str, key_dir: Path) -> Iterator[tuple[str, System]]:
    """(database URL, a System on it) on a scratch schema of the shared server."""
    url = f"{POSTGRES_URL}?schema={postgres_schema}"
    system = build(Settings(database_url=url, key_dir=key_dir, postgres_pool_size=SMALL_POOL))
    yield url, system
    system.close()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A cluster of our own, started; destroyed afterwards whatever state it is in."""
    bindir = postgres_bin()
    as_root_without_postgres = os.geteuid() == 0 and not (
        shutil.which("runuser") and _user_exists("postgres"))
    if bindir is None or as_root_without_postgres:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl) to start a private cluster"
        if as_root_without_postgres:
            reason = "as root, a private cluster needs runuser and a postgres user"
        if os.environ.get("CI") == "true":
            pytest.fail(f"required under CI=true: {reason}")
        pytest.skip(reason)
    cluster = PrivatePostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def fleet_for(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Fleet]]:
    """Request it after the database fixture: its processes stop before the database goes."""
    fleets: list[Fleet] = []

    def make(env: dict[str, str]) -> Fleet:
        fleets.append(Fleet(env, tmp_path))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.stop_all()
