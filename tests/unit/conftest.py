"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose settings put the database and keys under `var/`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQUESTER_DATABASE_URL", f"sqlite:///{tmp_path}/var/s.db")
    monkeypatch.setenv("SEQUESTER_KEY_DIR", str(tmp_path / "var" / "keys"))
    return tmp_path
