"""`sequester project`, `audit rebuild` and `keys shred` against the real read models."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.bootstrap import System, build
from ops.cli import main
from ops.demo import load_demo
from tests import dbutil


@pytest.fixture
def env(system: System, monkeypatch: pytest.MonkeyPatch) -> System:
    monkeypatch.setenv("SEQUESTER_DATABASE_URL", system.settings.database_url)
    monkeypatch.setenv("SEQUESTER_KEY_DIR", str(system.settings.key_dir))
    load_demo(system)
    return system


def table(system: System, name: str) -> str:
    if system.settings.is_postgres:
        return f'"{system.infrastructure.env["POSTGRES_SCHEMA"]}".{name}'
    return name


def test_project_once_then_rebuild_finds_no_difference(
    env: System, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["project", "--once"]) == 0
    assert main(["audit", "rebuild"]) == 0
    assert "equals a rebuild from zero" in capsys.readouterr().out


def test_rebuild_names_a_tampered_read_model_row(
    env: System, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["project", "--once"]) == 0
    dbutil.execute(env, f"UPDATE {table(env, 'rm_chart_index')} SET entry_count = entry_count + 7")
    assert main(["audit", "rebuild"]) == 1
    err = capsys.readouterr().err
    assert "rm_chart_index" in err and "column=entry_count" in err


def test_shredding_empties_the_subjects_read_models(env: System) -> None:
    assert main(["project", "--once"]) == 0
    pseudonym = env.subjects.list_pseudonyms()[3]
    subject_id = env.subjects.get(pseudonym).id
    assert main(["keys", "shred", "--subject", str(subject_id), "--reason", "retention ended"]) == 0
    fresh = build(env.settings)
    for name in ("rm_subject_list_v2", "rm_chart_index", "rm_chart_entries_v2"):
        rows = dbutil.execute(fresh, f"SELECT COUNT(*) FROM {table(env, name)} WHERE subject_id = %s",
                              (str(subject_id),))
        assert rows[0][0] == 0, name
    assert main(["project", "--once"]) == 0  # later events about it are skipped, not fatal
    fresh.close()


def test_export_writes_fhir_ndjson(env: System, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from domain.audit.trail import AuditEntry

    env.audit.record(AuditEntry("AU-1", ["auditor"], "audit.events", "", "allowed", "role",
                                datetime.now(UTC), request_id="r-1"))
    out = tmp_path / "audit.ndjson"
    assert main(["audit", "export", "--format", "fhir", "--output", str(out)]) == 0
    assert '"resourceType": "AuditEvent"' in out.read_text() or '"resourceType":"AuditEvent"' in out.read_text()


@pytest.mark.parametrize("given", ["0", "-1", "257", "two"])
def test_rebuild_refuses_a_bad_process_count_and_changes_nothing(
    env: System, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    assert main(["project", "--once"]) == 0
    before = dbutil.execute(env, f"SELECT projection, position FROM {table(env, 'sequester_tracking')}")
    with pytest.raises(SystemExit) as exited:
        main(["audit", "rebuild", "--processes", given])
    assert exited.value.code == 2
    assert "--processes: must be a whole number from 1 to 256" in capsys.readouterr().err
    after = dbutil.execute(env, f"SELECT projection, position FROM {table(env, 'sequester_tracking')}")
    assert sorted(after) == sorted(before)
