"""`audit verify` catches each kind of tampering and names the row (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from domain.errors import TamperDetected
from ops.bootstrap import System, checkpoint_signer
from ops.cli import main
from ops.ledger_verify import verify
from tests import dbutil


def populate(system: System, n: int = 4) -> None:
    for i in range(n):
        system.staff.hire(f"S-{i}", f"Person {i}", "clinician", ["clinician"], date(2024, 1, 8))


def report(system: System, notes: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    assert system.ledger is not None
    return verify(system.ledger, [checkpoint_signer(system.settings).verifier_key()], notes)


def test_an_untouched_log_verifies_with_its_checkpoints(system: System) -> None:
    populate(system)
    assert system.ledger is not None
    system.ledger.checkpoint(checkpoint_signer(system.settings))
    populate(system, 0)
    system.staff.hire("S-9", "Late Person", "clinician", ["clinician"], date(2024, 1, 8))
    result = report(system)
    assert result.ok, result.problems
    assert result.size == len(dbutil.rows(system)) and result.checked_checkpoints == 1


def test_an_edited_byte_is_named(system: System) -> None:
    populate(system)
    row = dbutil.rows(system)[2]
    state = bytearray(bytes(row[3]))
    state[-1] ^= 1
    dbutil.set_state(system, row[4], bytes(state))
    assert report(system).problems == [
        (f"row {row[4]} (event {row[0]} version {row[1]}) was edited, swapped or reordered: "
         "it no longer matches its leaf")
    ]


def test_a_deleted_row_is_named(system: System) -> None:
    populate(system)
    row = dbutil.rows(system)[1]
    dbutil.execute(system, f"DELETE FROM {{events}} WHERE {dbutil.id_column(system)} = %s", (row[4],))
    assert report(system).problems == [f"row {row[4]} was deleted: its Merkle leaf has no row"]


def test_swapped_rows_are_named(system: System) -> None:
    populate(system)
    a, b = dbutil.rows(system)[:2]
    dbutil.set_state(system, a[4], bytes(b[3]))
    dbutil.set_state(system, b[4], bytes(a[3]))
    assert report(system).problems[0].startswith(f"row {a[4]} (event {a[0]} version {a[1]}) was edited, swapped")


def test_an_inserted_row_is_named(system: System) -> None:
    populate(system)
    row = dbutil.rows(system)[0]
    dbutil.execute(
        system,
        "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
        (row[0], 99, row[2], bytes(row[3])),
    )
    last = dbutil.rows(system)[-1]
    assert report(system).problems == [
        f"row {last[4]} (event {last[0]} version 99) was inserted: it has no Merkle leaf"
    ]


def test_truncating_and_re_extending_breaks_the_auditors_checkpoint(system: System) -> None:
    populate(system)
    assert system.ledger is not None
    note = system.ledger.checkpoint(checkpoint_signer(system.settings))
    last = dbutil.rows(system)[-1]
    size = system.ledger.size()
    # The attacker removes the tail with its leaves and the stored checkpoints...
    dbutil.execute(system, f"DELETE FROM {{events}} WHERE {dbutil.id_column(system)} = %s", (last[4],))
    leaves = "sequester_merkle_leaves" if not system.settings.is_postgres else (
        f'"{system.infrastructure.env["POSTGRES_SCHEMA"]}".sequester_merkle_leaves')
    checkpoints = leaves.replace("sequester_merkle_leaves", "sequester_checkpoints")
    dbutil.execute(system, f"DELETE FROM {leaves} WHERE leaf_index = %s", (size - 1,))
    dbutil.execute(system, f"DELETE FROM {checkpoints}")
    # ...and appends new history through the application: the log is self-consistent.
    system.staff.hire("S-X", "Replacement", "clinician", ["clinician"], date(2024, 1, 8))
    assert report(system).ok
    problems = report(system, (note,)).problems
    assert problems and problems[0].startswith(f"given checkpoint (size {size}) does not match the log")


def test_a_forged_checkpoint_is_refused(system: System) -> None:
    populate(system)
    assert system.ledger is not None
    note = system.ledger.checkpoint(checkpoint_signer(system.settings))
    origin, size, rest = note.split("\n", 2)
    forged = f"{origin}\n{int(size) - 1}\n{rest}"  # the signature no longer covers the body
    problems = report(system, (forged,)).problems
    assert problems and problems[0].startswith("given checkpoint 1:")


def test_cli_verify_exits_non_zero_naming_the_row(
    system: System, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    populate(system)
    monkeypatch.setenv("SEQUESTER_DATABASE_URL", system.settings.database_url)
    monkeypatch.setenv("SEQUESTER_KEY_DIR", str(system.settings.key_dir))
    assert main(["audit", "checkpoint"]) == 0
    note_file = tmp_path / "checkpoint.txt"
    note_file.write_text(capsys.readouterr().out)
    assert main(["audit", "verify", "--checkpoint", str(note_file)]) == 0
    assert "2 checkpoint(s) consistent" in capsys.readouterr().out  # stored + given
    row = dbutil.rows(system)[0]
    dbutil.set_state(system, row[4], bytes(row[3])[:-1] + bytes([row[3][-1] ^ 1]))  # always a change
    assert main(["audit", "verify", "--checkpoint", str(note_file)]) == 1
    assert f"row {row[4]} (event {row[0]} version 1) was edited" in capsys.readouterr().err


def test_the_service_refuses_to_sign_over_a_rewritten_history(system: System) -> None:
    populate(system)
    assert system.ledger is not None
    signer = checkpoint_signer(system.settings)
    system.ledger.checkpoint(signer)
    leaves = "sequester_merkle_leaves" if not system.settings.is_postgres else (
        f'"{system.infrastructure.env["POSTGRES_SCHEMA"]}".sequester_merkle_leaves')
    dbutil.execute(system, f"UPDATE {leaves} SET leaf_hash = %s WHERE leaf_index = 1", (bytes(32),))
    system.staff.hire("S-X", "Late Person", "clinician", ["clinician"], date(2024, 1, 8))
    with pytest.raises(TamperDetected, match="no longer hash to the root of its latest signed"):
        system.ledger.checkpoint(signer)
    assert len(system.ledger.stored_checkpoints()) == 1
