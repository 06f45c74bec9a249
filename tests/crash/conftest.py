"""Fixtures of the crash tests: how many trials, and one warm fork server per module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.crash.harness import ForkServer

DEFAULT_TRIALS = 50


@pytest.fixture
def crash_trials(request: pytest.FixtureRequest) -> int:
    """Trials per backend: `--crash-trials N`, else $SEQUESTER_CRASH_TRIALS, else 50."""
    option = request.config.getoption("crash_trials", default=None)
    return int(option or os.environ.get("SEQUESTER_CRASH_TRIALS") or DEFAULT_TRIALS)


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("fork-server") / "stderr.log")
    yield server
    server.close()
