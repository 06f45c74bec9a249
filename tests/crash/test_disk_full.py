"""A full disk on SQLite: writes and audited reads fail closed, store nothing partial,
and the service works again, without a restart, once space returns.

Two ways to run out of space, both real errors from below the application:
- `PRAGMA max_page_count` caps the database file, and the engine answers a write that
  needs one more page with SQLITE_FULL ("database or disk is full"), as on a full disk.
  The cap is per connection, so a test subclass of the real recorder (wired in through
  `RECORDER_TOPICS`) sets it at the start of every write transaction. Runs everywhere.
- a small tmpfs mounted for the test and filled with a ballast file: the kernel's
  ENOSPC. Needs the right to mount (root here); skipped, saying so, where it is missing.
Everything else is the production code path, over HTTP.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ops import storage
from ops.bootstrap import System, build, checkpoint_signer
from ops.ledger_verify import verify
from tests import dbutil
from tests.e2e.test_chart_journeys import (
    CLINICIAN,
    NOTE,
    Journey,
    audit_entries,
    build_world,
    entry,
    grant,
)  # fmt: skip
from tests.principals import staff_tokens

UNLIMITED = 1_073_741_823  # SQLite's default max_page_count
UNAVAILABLE = {"error": "Unavailable", "detail": "the database is unavailable; retry shortly"}
AUDIT_FAILED = {"error": "Unavailable", "detail": "the audit trail could not be written; retry"}


class CappedRecorder(storage.SQLiteRecorder):
    """The SQLite recorder with its database file capped at `max_pages` pages."""

    max_pages: int = UNLIMITED

    def _insert_events(self, c: Any, stored_events: Sequence[Any], **kwargs: Any) -> Any:
        c.execute(f"PRAGMA max_page_count = {int(self.max_pages)}")  # an int, not input
        return super()._insert_events(c, stored_events, **kwargs)


@pytest.fixture
def capped(
    tmp_path: Path, settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[System]:
    topic = f"{__name__}:CappedRecorder"
    monkeypatch.setitem(storage.RECORDER_TOPICS, "eventsourcing.sqlite", topic)
    system = build(settings_for(f"sqlite:///{tmp_path / 'full.db'}", projections_in_process=False))
    assert isinstance(system.infrastructure.recorder, CappedRecorder)
    yield system
    system.close()


def journey(client: TestClient, key_dir: Path, system: System) -> Journey:
    return Journey(client, staff_tokens(key_dir, system))


def page_count(system: System) -> int:
    return int(dbutil.execute(system, "PRAGMA page_count")[0][0])


def data_keys(system: System) -> int:
    return int(dbutil.execute(system, "SELECT COUNT(*) FROM sequester_data_keys")[0][0])


def added_records(system: System, rows_before: int) -> list[dict[str, Any]]:
    """The audit entries of the rows stored since; fails on any other kind of row."""
    rows = dbutil.rows(system)[rows_before:]
    assert all(r[2].endswith("AuditRecord.Recorded") for r in rows), [r[2] for r in rows]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def assert_refused_whole(j: Journey, system: System, before: tuple[int, int], response: Any,
                         action: str) -> None:  # fmt: skip
    """A refused request stored nothing but, if there was room, its own failure record;
    the client was told which, with the stable body and no note text."""
    assert response.status_code == 503 and NOTE not in response.text
    records = added_records(system, before[0])
    if response.json() == AUDIT_FAILED:
        assert records == []
    else:
        assert response.json() == UNAVAILABLE
        assert [(r["request_id"], r["action"], r["decision"], r["outcome"]) for r in records] == [
            (j.sent[-1], action, "failed", "503")]
    assert data_keys(system) == before[1]


def assert_whole(system: System, chart: str, acknowledged: list[str]) -> None:
    """Every acknowledged entry is in the chart once, each with its audit record, and
    the Merkle ledger recomputes from the rows."""
    entries = [str(e.entry_id) for e in system.charts.get(chart).entries]
    assert entries == acknowledged
    writes = [e for e in audit_entries(system) if e["action"] == "chart.write"
              and e["decision"] == "allowed"]  # fmt: skip
    assert len(writes) == len(acknowledged)
    assert system.ledger is not None
    report = verify(system.ledger, [checkpoint_signer(system.settings).verifier_key()])
    assert report.ok, report.problems
    assert report.size == len(dbutil.rows(system))


def write_until_refused(j: Journey, system: System, chart: str, note: str,
                        acknowledged: list[str]) -> Any:  # fmt: skip
    """Chart entries until one is refused; checks that refusal; returns its response."""
    for _ in range(300):
        before = (len(dbutil.rows(system)), data_keys(system))
        response = j.post(f"/charts/{chart}/entries", CLINICIAN, json=entry(note=note))
        if response.status_code != 201:
            assert_refused_whole(j, system, before, response, "chart.write")
            return response
        acknowledged.append(response.json()["entry_id"])
    raise AssertionError("the capped database never filled up")


def read_until_refused(j: Journey, system: System, chart: str) -> None:
    """Audited reads use space too: each allowed read stored its record; the first one
    refused returned no chart data."""
    for _ in range(300):
        before = (len(dbutil.rows(system)), data_keys(system))
        response = j.get(f"/charts/{chart}", CLINICIAN)
        if response.status_code != 200:
            assert_refused_whole(j, system, before, response, "chart.read")
            return
        assert [r["action"] for r in added_records(system, before[0])] == ["chart.read"]
    raise AssertionError("audited reads never ran out of space")


def test_a_full_disk_fails_closed_and_the_service_recovers_without_restart(
    capped: System, key_dir: Path
) -> None:
    recorder = capped.infrastructure.recorder
    assert isinstance(recorder, CappedRecorder)
    with TestClient(create_app(capped.settings, capped)) as client:
        j = journey(client, key_dir, capped)
        w = build_world(j)
        grant(j, "C-1", w.other)
        recorder.max_pages = page_count(capped) + 4  # a few pages left, then the disk is full
        acknowledged: list[str] = []
        write_until_refused(j, capped, w.other, NOTE * 20, acknowledged)  # long notes
        assert acknowledged, "it wrote until the disk was full"
        # short entries fill the crumbs, until not even a failure record fits
        while write_until_refused(j, capped, w.other, "ok", acknowledged).json() != AUDIT_FAILED:
            pass
        read_until_refused(j, capped, w.other)
        assert_whole(capped, w.other, acknowledged)

        recorder.max_pages = UNLIMITED  # space returns; the same process carries on
        again = j.post(f"/charts/{w.other}/entries", CLINICIAN, json=entry())
        assert again.status_code == 201, again.text
        acknowledged.append(again.json()["entry_id"])
        read = j.get(f"/charts/{w.other}", CLINICIAN)
        assert read.status_code == 200
        assert [e["entry_id"] for e in read.json()["entries"]] == acknowledged
    assert_whole(capped, w.other, acknowledged)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = shutil.which("mount")
    done = mount and subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(disk)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not done or done.returncode != 0:
        reason = done.stderr.strip() if done else "no mount command"
        pytest.skip(f"cannot mount a tmpfs here ({reason}); the max_page_count test runs")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    ballast = disk / "ballast"
    with ballast.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:  # ENOSPC: the filesystem is full
            pass
    assert os.statvfs(disk).f_bavail == 0
    return ballast


def test_a_full_filesystem_fails_closed_and_deleting_a_file_brings_the_service_back(
    small_disk: Path, settings_for: Any, key_dir: Path
) -> None:
    system = build(settings_for(f"sqlite:///{small_disk / 's.db'}", projections_in_process=False))
    try:
        with TestClient(create_app(system.settings, system)) as client:
            j = journey(client, key_dir, system)
            w = build_world(j)
            grant(j, "C-1", w.other)
            ballast = fill(small_disk)
            acknowledged: list[str] = []
            write_until_refused(j, system, w.other, NOTE * 20, acknowledged)
            read_until_refused(j, system, w.other)
            assert_whole(system, w.other, acknowledged)

            ballast.unlink()  # space returns; the same process carries on
            again = j.post(f"/charts/{w.other}/entries", CLINICIAN, json=entry())
            assert again.status_code == 201, again.text
            acknowledged.append(again.json()["entry_id"])
            read = j.get(f"/charts/{w.other}", CLINICIAN)
            assert [e["entry_id"] for e in read.json()["entries"]] == acknowledged
        assert_whole(system, w.other, acknowledged)
    finally:
        system.close()
