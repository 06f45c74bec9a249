"""Audit records: a command's record commits with its events, or neither commits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.audit.trail import (
    AUDIT_SUBJECT,
    AuditEntry,
    AuditRecord,
    DirectorAuditNote,
    audited_command,
)
from domain.errors import ConcurrencyConflict, DataShredded
from ops.bootstrap import System, build
from tests import dbutil

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def entry(action: str = "staff.create", **kw: object) -> AuditEntry:
    fields: dict[str, object] = {
        "principal": "HR-1", "roles": ["hr"], "action": action, "target": "S-1",
        "decision": "allowed", "rule": "role", "at": NOW, "request_id": "req-1",
    }
    fields.update(kw)
    return AuditEntry(**fields)  # type: ignore[arg-type]


def topics(system: System) -> list[str]:
    return [row[2].rsplit(":", 1)[-1] for row in dbutil.rows(system)]


def test_a_commands_record_is_saved_in_the_same_transaction(system: System) -> None:
    e = entry()
    with audited_command(e):
        position = system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    assert topics(system) == [
        "StaffMember.Hired", "StaffRoster.Started", "StaffRoster.Listed", "AuditRecord.Recorded"
    ]
    assert position == max(r[4] for r in dbutil.rows(system))
    assert system.audit.get(e.record_id).entry["action"] == "staff.create"


def test_only_the_first_commit_of_a_command_carries_its_record(system: System) -> None:
    with audited_command(entry()):
        system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
        system.staff.sign_agreement("S-1", "v1", date(2024, 1, 8))
    assert topics(system).count("AuditRecord.Recorded") == 1


def test_a_failed_commit_gives_the_record_back(system: System) -> None:
    system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    stale = system.staff.get("S-1")
    system.staff.sign_agreement("S-1", "v1", date(2024, 1, 8))
    e = entry("staff.update")
    with audited_command(e) as command:
        stale.assign_roles(["manager"])
        with pytest.raises(ConcurrencyConflict):
            system.staff.commit(stale)
        assert not command.committed
        system.audit.record(e)  # the caller stores the refusal on its own
    assert topics(system).count("AuditRecord.Recorded") == 1


def test_if_the_audit_record_cannot_be_written_nothing_commits(system: System) -> None:
    system.audit.record(entry("warm-up"))
    before = dbutil.rows(system)
    system.keyring.store.shred(AUDIT_SUBJECT, "fault injection", NOW)  # bypasses the guard
    system.keyring._by_scope.discard_where(lambda s: True)
    system.keyring._warmed_at = None
    with audited_command(entry()), pytest.raises(DataShredded):
        system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    assert dbutil.rows(system) == before
    assert not system.staff.exists("S-1")


def test_link_rules_reach_auditors_only_as_sequestration(system: System) -> None:
    e = entry("chart.read", decision="denied", rule="sequestration", director_rule="self_access",
              target="SQ-AAAA-BBBB")
    system.audit.record(e)
    record = system.audit.get(e.record_id)
    assert record.entry["rule"] == "sequestration" and "director_rule" not in record.entry
    notes = [row for row in dbutil.rows(system) if row[2].endswith("DirectorAuditNote.Noted")]
    assert len(notes) == 1
    note = system.audit.repository.get(notes[0][0])
    assert isinstance(note, DirectorAuditNote) and note.rule == "self_access"
    assert system.keyring.store.find("director", AUDIT_SUBJECT) is not None
    assert isinstance(record, AuditRecord)


def test_the_audit_subject_cannot_be_shredded(system: System) -> None:
    from domain.errors import KeyUnavailable

    with pytest.raises(KeyUnavailable, match="system key"):
        system.keyring.shred(AUDIT_SUBJECT, "oops")


def test_concurrent_reads_share_commits_and_every_record_is_stored(system: System) -> None:
    import threading

    entries = [entry("chart.read", request_id=f"r-{i}") for i in range(60)]
    barrier = threading.Barrier(12)

    def worker(chunk: list[AuditEntry]) -> None:
        barrier.wait()
        for e in chunk:
            system.audit.record(e)

    threads = [threading.Thread(target=worker, args=(entries[i::12],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = {system.audit.get(e.record_id).entry["request_id"] for e in entries}
    assert stored == {f"r-{i}" for i in range(60)}
    assert topics(system).count("AuditRecord.Recorded") == 60
    assert system.audit.commits < 60  # some records shared a transaction


def test_a_failed_group_commit_fails_every_waiter(system: System) -> None:
    system.audit.record(entry("warm-up"))
    system.keyring.store.shred(AUDIT_SUBJECT, "fault injection", NOW)
    system.keyring._by_scope.discard_where(lambda s: True)
    system.keyring._warmed_at = None
    with pytest.raises(DataShredded):
        system.audit.record(entry("chart.read"))
    assert topics(system).count("AuditRecord.Recorded") == 1


def test_records_whose_data_key_another_process_created_first_are_stored(
    system: System, settings_for  # type: ignore[no-untyped-def]
) -> None:
    """Two processes' first audit records race to create the trail's data key: the loser
    commits again with the winner's key instead of failing a read with 409."""
    other = build(settings_for(system.settings.database_url))
    real_find = other.keyring.store.find
    system.audit.record(entry("first", request_id="req-winner"))  # the key, committed
    other.keyring._warm_scopes.clear()  # `other` has not seen the key yet: the race
    other.keyring._by_scope.discard_where(lambda scope: True)
    calls = 0

    def find_once_missing(kek: str, subject: object) -> object:
        nonlocal calls
        calls += 1
        return None if calls == 1 else real_find(kek, subject)  # type: ignore[arg-type]

    other.keyring.store.find = find_once_missing  # type: ignore[method-assign,assignment]
    later = entry("second", request_id="req-loser")
    other.audit.record_all([later])
    assert calls >= 2  # the first attempt made its own key, which collided
    fresh = build(settings_for(system.settings.database_url))
    assert fresh.audit.find(later.record_id)["request_id"] == "req-loser"  # type: ignore[index]
    assert len([k for k in fresh.keyring.store.for_kek("events")
                if k.subject_id == AUDIT_SUBJECT]) == 1
    for s in (other, fresh):
        s.close()
