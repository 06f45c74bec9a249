"""`sequester audit verify --remote`: an auditor with a kept checkpoint, the public key
and a token checks a running service over HTTP, while the test tampers with the
database underneath it like an attacker (both backends)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from api.app import create_app
from domain.audit.merkle import leaf_hash
from ops.bootstrap import System, build, checkpoint_signer
from ops.keys.tokens import sign_development_token
from ops.ledger import leaf_data
from ops.ledger_verify import verify
from tests import dbutil
from tests.principals import on_staff
from tests.serving import serving


@dataclass
class Audited:
    system: System
    base: str
    kept: Path
    args: list[str]

    def verify(self, *args: str) -> tuple[int, str, str]:
        """The CLI in a process of its own, as on an auditor's machine: no database
        settings, no keys."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQUESTER_")}
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", "audit", "verify", "--remote", self.base,
             *(args or self.args)], env=env, cwd=self.kept.parent, capture_output=True,
            text=True, timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr


def bearer(key_dir: Path, sub: str, role: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + sign_development_token(
        key_dir, sub=sub, roles=[role], issuer="sequester-dev", audience="sequester", ttl=600)}


def work(http: httpx.Client, key_dir: Path, first: int, count: int) -> None:
    """Hires and audit reads: domain events and audit records in the log."""
    for i in range(first, first + count):
        hired = http.post("/staff", headers=bearer(key_dir, "HR-1", "hr"), json={
            "staff_id": f"S-{i}", "display_name": f"Staff {i}", "job_title": "clinician",
            "roles": ["clinician"], "hired_on": "2024-01-08"})
        assert hired.status_code == 201, hired.text
        http.get("/audit/events", headers=bearer(key_dir, "AU-1", "auditor"))


@pytest.fixture(params=["grows", "still"])
def audited(request: pytest.FixtureRequest, backend: str, settings_for,  # type: ignore[no-untyped-def]
            key_dir: Path, tmp_path: Path) -> Iterator[Audited]:
    """A served log whose checkpoint the auditor kept; it then grows, or stays still."""
    system = build(settings_for(backend, checkpoint_interval_seconds=0))
    on_staff(system, "HR-1", ["hr"])
    on_staff(system, "AU-1", ["auditor"])
    auditor = bearer(key_dir, "AU-1", "auditor")
    (tmp_path / "token").write_text(auditor["Authorization"].removeprefix("Bearer "))
    with serving(create_app(system.settings, system)) as base, httpx.Client(base_url=base) as http:
        work(http, key_dir, 0, 4)
        kept = tmp_path / "kept.checkpoint"
        kept.write_text(http.get("/audit/log/checkpoint", headers=auditor).text)
        if request.param == "grows":
            work(http, key_dir, 4, 2)
        system.wait_for(system.infrastructure.recorder.max_notification_id())
        yield Audited(system, base, kept, [
            "--checkpoint", str(kept), "--token-file", str(tmp_path / "token"),
            "--verifier-key", checkpoint_signer(system.settings).verifier_key()])
    system.close()


def audit_rows(system: System, kept_size: int) -> list[list[Any]]:
    """(originator id, version, topic, state, notification id) of the audit records
    that the kept checkpoint covers."""
    assert system.ledger is not None
    covered = {nid for _, nid, _ in system.ledger.stored_leaves()[:kept_size]}
    return [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded") and r[4] in covered]


def kept_size(audited: Audited) -> int:
    return int(audited.kept.read_text().split("\n")[1])


def test_an_untouched_log_verifies(audited: Audited) -> None:
    code, out, err = audited.verify()
    assert (code, err) == (0, "")
    assert f"consistent with the kept checkpoint of size {kept_size(audited)}" in out
    assert "0 audit record(s)" not in out and "audit record(s) included" in out
    named = uuid_of(audit_rows(audited.system, kept_size(audited))[0])
    code, out, err = audited.verify(*audited.args, "--record", named, "--sample", "1")
    assert (code, err) == (0, "") and ("; 1 audit" in out or "; 2 audit" in out)  # sampled: 0-1


def test_an_edited_row_is_named(audited: Audited) -> None:
    row = audit_rows(audited.system, kept_size(audited))[1]
    dbutil.set_state(audited.system, row[4], bytes(row[3])[:-1] + bytes([row[3][-1] ^ 1]))
    code, _, err = audited.verify()
    assert code == 1
    assert f"audit record {uuid_of(row)}" in err and "its row was edited, swapped or reordered" in err


def test_a_deleted_row_is_named(audited: Audited) -> None:
    row = audit_rows(audited.system, kept_size(audited))[0]
    dbutil.execute(audited.system, f"DELETE FROM {{events}} WHERE {dbutil.id_column(audited.system)} = %s",
                   (row[4],))
    code, _, err = audited.verify()
    assert code == 1
    assert f"audit record {uuid_of(row)} is listed by /audit/events but the log holds no row" in err
    code, _, err = audited.verify(*audited.args, "--record", uuid_of(row))
    assert code == 1 and f"audit record {uuid_of(row)}: /audit/events/{uuid_of(row)}/proof " \
        "answered 404: NotFound: the log holds no audit record" in err


def test_reordered_rows_are_named(audited: Audited) -> None:
    a, b = audit_rows(audited.system, kept_size(audited))[:2]
    system, column = audited.system, dbutil.id_column(audited.system)
    swap = f"UPDATE {{events}} SET originator_id = %s, state = %s WHERE {column} = %s"
    placeholder = uuid4() if system.settings.is_postgres else uuid4().hex
    dbutil.execute(system, f"UPDATE {{events}} SET originator_id = %s WHERE {column} = %s",
                   (placeholder, a[4]))
    dbutil.execute(system, swap, (a[0], bytes(a[3]), b[4]))
    dbutil.execute(system, swap, (b[0], bytes(b[3]), a[4]))
    code, _, err = audited.verify()
    assert code == 1 and "its row was edited, swapped or reordered" in err


def test_a_rewritten_history_of_the_same_size_is_caught(audited: Audited) -> None:
    """The attacker edits a row, rewrites its leaf to match, and deletes the stored
    checkpoints: the database is self-consistent, and the service signs it."""
    system = audited.system
    row = audit_rows(system, kept_size(audited))[2]
    state = bytes(row[3])[:-1] + bytes([row[3][-1] ^ 1])
    dbutil.set_state(system, row[4], state)
    leaf = leaf_hash(leaf_data(row[4], row[0], row[1], row[2], state))
    dbutil.execute(system, f"UPDATE {table(system, 'sequester_merkle_leaves')} SET leaf_hash = %s "
                   "WHERE notification_id = %s", (leaf, row[4]))
    dbutil.execute(system, f"DELETE FROM {table(system, 'sequester_checkpoints')}")
    assert system.ledger is not None
    assert verify(system.ledger, [checkpoint_signer(system.settings).verifier_key()]).ok
    code, _, err = audited.verify()
    assert code == 1 and "history" in err and "rewritten" in err
    if kept_size(audited) == system.ledger.size():
        assert f"has the kept checkpoint's size {kept_size(audited)} but another root" in err


def test_a_kept_checkpoint_of_another_key_stops_with_one_line(
    audited: Audited, tmp_path: Path
) -> None:
    from ops.checkpoints import generate_signer_key, signer_from_key

    other = signer_from_key(generate_signer_key("sequester.test/log")).verifier_key()
    (tmp_path / "other.vkey").write_text(other + "\n")
    args = [*audited.args[:-1], str(tmp_path / "other.vkey")]
    code, _, err = audited.verify(*args)
    assert code == 2 and err.count("\n") == 1
    assert "the kept checkpoint does not verify with the verifier key" in err


def uuid_of(row: list[Any]) -> str:
    from uuid import UUID

    return str(row[0] if not isinstance(row[0], str) else UUID(row[0]))


def table(system: System, name: str) -> str:
    if system.settings.is_postgres:
        return f'"{system.infrastructure.env["POSTGRES_SCHEMA"]}".{name}'
    return name
