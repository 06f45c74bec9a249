"""The encrypted event store on SQLite and PostgreSQL (issue: foundation)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import psycopg
import pytest

from domain.errors import ConcurrencyConflict, DataShredded, KeyUnavailable, TamperDetected
from domain.staff.aggregate import staff_uuid
from domain.staff.application import StaffApplication
from ops.bootstrap import System, build
from ops.keys.kek import FileKeySource
from tests import canaries, dbutil
from tests.conftest import POSTGRES_URL

CANARY_NAME = "Zephyrine Quillfeather-Ostrova"
CANARY_REASON = "left for the Ubbelohde clinic"
canaries.plant(CANARY_NAME, CANARY_REASON)


def hire(system: System, staff_id: str = "S-1", name: str = CANARY_NAME) -> int:
    return system.staff.hire(staff_id, name, "clinician", ["clinician"], date(2024, 1, 8))


def test_round_trip_through_a_fresh_application(system: System) -> None:
    hire(system)
    system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 9))
    fresh = StaffApplication(system.infrastructure)
    member = fresh.get("S-1")
    assert (member.display_name, member.job_title, member.version) == (CANARY_NAME, "clinician", 2)
    assert member.agreements == [{"version": "2024.1", "signed_on": date(2024, 1, 9)}]


def test_positions_increase_with_each_write(system: System) -> None:
    first = hire(system)
    second = system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 9))
    assert second > first >= 1


def test_two_writers_at_one_version_get_one_conflict_and_lose_nothing(system: System) -> None:
    hire(system)
    a = system.staff.get("S-1")
    b = StaffApplication(system.infrastructure).get("S-1")
    a.sign_confidentiality_agreement("2024.1", date(2024, 1, 9))
    b.assign_roles(["clinician", "manager"])
    system.staff.commit(a)
    with pytest.raises(ConcurrencyConflict):
        system.staff.commit(b)
    member = system.staff.get("S-1")
    assert member.version == 2
    assert member.agreements and member.roles == ["clinician"]


def raw_database_bytes(system: System) -> bytes:
    if system.settings.is_postgres:
        return b"".join(bytes(r[3]) for r in dbutil.rows(system))
    path = Path(system.settings.sqlite_path())
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_raw_storage_holds_no_plaintext(system: System) -> None:
    system.staff.hire("S-1", CANARY_NAME, "ambassador_wellness_recovery", ["peer_staff"],
                      date(2024, 1, 8))
    system.staff.separate("S-1", date(2025, 1, 1), CANARY_REASON)
    raw = raw_database_bytes(system)
    assert len(raw) > 0
    # (a job title, not a column name: the schema text of the read models is in the file)
    for plaintext in (CANARY_NAME, CANARY_REASON, "Quillfeather", "ambassador_wellness"):
        assert plaintext.encode() not in raw
        assert plaintext.encode("utf-16-le") not in raw


def test_swapped_payloads_are_detected_naming_the_event(system: System) -> None:
    hire(system, "S-1")
    hire(system, "S-2", "Someone Else")
    (a, b) = dbutil.rows(system)[:2]
    dbutil.set_state(system, a[4], bytes(b[3]))
    dbutil.set_state(system, b[4], bytes(a[3]))
    fresh = StaffApplication(system.infrastructure)
    with pytest.raises(TamperDetected, match=f"event {staff_uuid('S-1')} version 1"):
        fresh.get("S-1")


@pytest.mark.parametrize("offset", [0, 5, 20, 40, -1])
def test_one_altered_byte_is_detected(system: System, offset: int) -> None:
    hire(system)
    row = dbutil.rows(system)[0]
    state = bytearray(bytes(row[3]))
    state[offset] ^= 0x01
    dbutil.set_state(system, row[4], bytes(state))
    with pytest.raises((TamperDetected, KeyUnavailable), match=f"{staff_uuid('S-1')} version 1"):
        StaffApplication(system.infrastructure).get("S-1")


def test_rotation_rewraps_and_everything_reads_after_retiring(
    system: System, settings_for, key_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    hire(system)
    FileKeySource(key_dir).create("events", 2, development=True)
    rotated = build(settings_for(system.settings.database_url))
    wrapped = rotated.keyring.status()[0].data_keys_by_version[1]
    assert rotated.keyring.rotate("events") == (2, wrapped)
    FileKeySource(key_dir).retire("events", 1)
    after = build(settings_for(system.settings.database_url))
    assert after.staff.get("S-1").display_name == CANARY_NAME
    status = {k.name: k for k in after.keyring.status()}["events"]
    assert (status.versions, status.data_keys_by_version) == ([2], {2: wrapped})
    rotated.close()
    after.close()


def test_shredding_makes_one_subject_unreadable_and_leaves_others(system: System) -> None:
    hire(system, "S-1")
    hire(system, "S-2", "Other Person")
    assert system.keyring.shred(staff_uuid("S-1"), "retention period ended") == 1
    with pytest.raises(DataShredded, match="shredded"):
        StaffApplication(system.infrastructure).get("S-1")
    assert system.staff.get("S-2").display_name == "Other Person"
    with pytest.raises(DataShredded):
        system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 9))


def test_wrong_key_material_refuses_to_start(
    system: System, settings_for, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    hire(system)
    wrong = tmp_path / "wrong-keys"
    for name in ("events", "director", "medical"):
        FileKeySource(wrong).create(name, 1, development=True)
    settings = settings_for(system.settings.database_url).model_copy(update={"key_dir": wrong})
    with pytest.raises(KeyUnavailable, match="'events' version 1 does not unwrap"):
        build(settings)


def test_missing_kek_refuses_to_start_naming_it(
    system: System, settings_for, key_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    (key_dir / "medical.v1.key").unlink()
    with pytest.raises(KeyUnavailable, match=r"missing key-encryption key\(s\) \['medical'\]"):
        build(settings_for(system.settings.database_url))


def test_postgres_state_column_is_ciphertext(postgres_schema: str, settings_for) -> None:  # type: ignore[no-untyped-def]
    system = build(settings_for(f"{POSTGRES_URL}?schema={postgres_schema}"))
    hire(system)
    with psycopg.connect(POSTGRES_URL) as conn:
        (state,) = conn.execute(
            f'SELECT state FROM "{postgres_schema}".sequester_events'
        ).fetchone()
    assert bytes(state)[:1] == b"\x01" and CANARY_NAME.encode() not in bytes(state)
    system.close()


def test_postgres_sessions_run_without_jit(postgres_schema: str, settings_for) -> None:  # type: ignore[no-untyped-def]
    """Once the log is large, the planner would JIT-compile each decision's look-ups:
    ~6 ms a query for a query that runs in a tenth of that."""
    system = build(settings_for(f"{POSTGRES_URL}?schema={postgres_schema}"))
    datastore = system.staff.recorder.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        assert conn.execute("SHOW jit").fetchone()["jit"] == "off"
    system.close()


pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


def test_a_key_created_in_a_lost_race_is_neither_stored_nor_cached(
    system: System, settings_for  # type: ignore[no-untyped-def]
) -> None:
    other = build(settings_for(system.settings.database_url))
    real_find = other.keyring.store.find
    hire(system, "S-1")  # commits the subject's first data key and its events
    member = other.staff.get("S-1")
    # `other` has not seen that key yet: the race, made deterministic.
    other.keyring.store.find = lambda kek, subject: None  # type: ignore[method-assign,assignment]
    other.keyring._warm_scopes.clear()
    other.keyring._by_scope.discard_where(lambda scope: True)
    member.sign_confidentiality_agreement("2024.1", date(2024, 1, 9))
    with pytest.raises(ConcurrencyConflict):
        other.staff.commit(member)  # its own new key for S-1 collides: nothing commits
    other.keyring.store.find = real_find  # type: ignore[method-assign]
    other.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 9))
    fresh = build(settings_for(system.settings.database_url))
    assert fresh.staff.get("S-1").version == 2
    assert fresh.keyring.store.find("events", staff_uuid("S-1")) is not None
    assert len(fresh.keyring.store.for_kek("events")) == 2  # the member's and the roster's
    for s in (other, fresh):
        s.close()


def test_every_staff_event_round_trips(system: System) -> None:
    hire(system, "M-1")
    hire(system, "S-1")
    system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 9))
    system.staff.assign_roles("S-1", ["clinician", "peer_staff"])
    system.staff.change_supervisor("S-1", "M-1")
    system.staff.separate("S-1", date(2025, 1, 1), CANARY_REASON)
    fresh = StaffApplication(system.infrastructure)
    member = fresh.get("S-1")
    assert vars(member) == vars(system.staff.get("S-1"))
    assert (member.roles, member.supervisor_id, member.separated_on) == (
        ["clinician", "peer_staff"], "M-1", date(2025, 1, 1))
    assert fresh.roster().supervisors == {"M-1": None}
    topics = {row[2].rsplit(".", 1)[-1] for row in dbutil.rows(system)}
    assert topics >= {"Hired", "ConfidentialityAgreementSigned", "RolesAssigned",
                      "SupervisorChanged", "Separated", "Listed", "Delisted", "Started"}
