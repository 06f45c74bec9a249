"""Replay, the audit trail reader and the FHIR export on the encrypted store, on SQLite
and PostgreSQL: what a fresh process reads back equals what was written."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from domain.audit.fhir import export_ndjson
from domain.audit.replay import KINDS, REVEAL_GROUPS, replay
from domain.audit.report import access_report, iter_audit_entries
from ops.bootstrap import System, build
from ops.settings import Settings
from tests import dbutil
from tests.unit.test_replay import (
    CHART_NOTE,
    CONDITION,
    LEGAL_NAME,
    SECRETS,
    World,
    audit_entry,
    build_world,
    folded,
)


@pytest.fixture
def fresh(backend: str, settings_for: Callable[[str], Settings]) -> Iterator[System]:
    """A second process's view of the same database (its own applications and caches)."""
    other = build(settings_for(backend))
    yield other
    other.close()


@pytest.fixture
def world(system: System) -> World:
    return build_world(system)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_version_reads_back_equal_in_a_fresh_system(
    system: System, fresh: System, world: World, kind: str
) -> None:
    public_id = world.public_id(kind)
    expected = folded(system, kind, world)
    for n, state in enumerate(expected, start=1):
        written = replay(system, kind, public_id, version=n, reveal=REVEAL_GROUPS)
        read_back = replay(fresh, kind, public_id, version=n, reveal=REVEAL_GROUPS)
        assert written.state == read_back.state == state


def test_as_of_reads_the_stored_timestamps(system: System, fresh: System) -> None:
    system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    between = datetime.now(UTC)
    system.staff.sign_agreement("S-1", "v1", date(2024, 1, 9))
    assert replay(fresh, "staff", "S-1", as_of=between).version == 1
    assert replay(fresh, "staff", "S-1", as_of=datetime.now(UTC)).version == 2


def test_redaction_holds_on_the_stored_records(fresh: System, world: World) -> None:
    shown = [replay(fresh, kind, world.public_id(kind)).state for kind in sorted(KINDS)]
    text = json.dumps(shown)
    assert not [s for s in SECRETS if s in text]
    revealed = replay(fresh, "identity", world.pseudonym, reveal={"identity"}).state
    assert revealed["legal_name"] == LEGAL_NAME


def test_no_plaintext_secret_is_stored(system: System, world: World) -> None:
    stored = b"".join(bytes(row[3]) for row in dbutil.rows(system))
    for secret in (LEGAL_NAME, CHART_NOTE, CONDITION, world.pseudonym):
        assert secret.encode() not in stored


def test_the_audit_trail_reads_back_in_order_and_exports(
    system: System, fresh: System, world: World
) -> None:
    later = [
        audit_entry(target=world.pseudonym, action="chart.write", request_id="req-2"),
        audit_entry(
            target=world.pseudonym,
            decision="denied",
            rule="sequestration",
            director_rule="self_access",
            request_id="req-3",
        ),
    ]
    positions = [system.audit.record(e) for e in later]
    read = list(iter_audit_entries(fresh))
    read_positions = [p for p, _ in read]
    assert read_positions == sorted(set(read_positions))
    # `record` returns the commit's last position: the director note follows its record.
    assert read_positions[-2] == positions[0] and read_positions[-1] == positions[1] - 1
    assert [e["record_id"] for _, e in read] == [world.record_id] + [e.record_id for e in later]
    assert all("director_rule" not in e for _, e in read)
    lines = list(export_ndjson(e for _, e in read))
    resources = [AuditEvent.model_validate(json.loads(line)) for line in lines]
    assert [r.id for r in resources] == [str(e["record_id"]) for _, e in read]
    report = access_report((e for _, e in read), world.pseudonym)
    assert [line["request_id"] for line in report] == ["req-1", "req-2", "req-3"]
