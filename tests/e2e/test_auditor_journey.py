"""An auditor reads, verifies and replays over HTTP; a clinician sees nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from fhir.resources.R4B.auditevent import AuditEvent

from domain.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from ops.bootstrap import System, checkpoint_signer
from ops.checkpoints import verify_note
from ops.ledger import leaf_data
from tests import canaries, dbutil

LEGAL_NAME = "Perpetua Windle-Asante"
canaries.plant(LEGAL_NAME)
Tokens = Callable[..., dict[str, str]]


def enrol(client: TestClient, tokens: Tokens) -> str:
    client.post("/staff", headers=tokens("HR-1", "hr"), json={
        "staff_id": "R-1", "display_name": "R", "job_title": "recovery_coach",
        "roles": ["peer_staff"], "hired_on": "2024-02-05"})
    created = client.post("/subjects", headers=tokens("D-1", "director"), json={
        "legal_name": LEGAL_NAME, "birth_date": "1990-01-02", "category": "employee", "staff_id": "R-1"})
    return str(created.json()["pseudonym"])


def test_auditor_reads_verifies_and_replays(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    pseudonym = enrol(client, token_for)
    auditor = token_for("AU-1", "auditor")
    position = max(r[4] for r in dbutil.rows(app_system))
    events = client.get("/audit/events", headers=auditor,
                        params={"action": "subject.enrol", "after": position})
    assert [e["target"] for e in events.json()["items"]] == [pseudonym]
    first = client.get("/audit/checkpoint", headers=auditor).text
    key = checkpoint_signer(app_system.settings).verifier_key()
    old = verify_note(first, key)
    client.get("/audit/events", headers=auditor)  # grows the log (its own audit record)
    second = verify_note(client.get("/audit/checkpoint", headers=auditor).text, key)
    assert second.size > old.size
    proof = client.get("/audit/proofs/consistency", headers=auditor,
                       params={"old": old.size, "new": second.size}).json()["proof"]
    assert verify_consistency(old.size, second.size, old.root, second.root,
                              [bytes.fromhex(p) for p in proof])
    row = dbutil.rows(app_system)[0]
    inclusion = client.get("/audit/proofs/inclusion", headers=auditor,
                           params={"index": 0, "size": second.size}).json()["proof"]
    leaf = leaf_hash(leaf_data(row[4], row[0], row[1], row[2], bytes(row[3])))
    assert verify_inclusion(leaf, 0, second.size, [bytes.fromhex(p) for p in inclusion], second.root)
    replayed = client.get(f"/audit/replay/identity/{pseudonym}", headers=auditor)
    assert replayed.status_code == 200 and LEGAL_NAME not in replayed.text
    assert replayed.json()["state"]["legal_name"] == "[redacted]"
    exported = client.get("/audit/export", headers=auditor, params={"format": "fhir"})
    lines = exported.text.strip().splitlines()
    assert len(lines) >= 5 and LEGAL_NAME not in exported.text
    AuditEvent.model_validate(json.loads(lines[0]))


def test_the_director_sees_the_access_report_and_names_in_replay(
    client: TestClient, token_for: Tokens
) -> None:
    pseudonym = enrol(client, token_for)
    director = token_for("D-1", "director")
    report = client.get(f"/subjects/{pseudonym}/access-report", headers=director)
    # the report read is itself recorded before the report is assembled
    assert [a["action"] for a in report.json()["accesses"]] == ["subject.enrol", "subject.access_report"]
    replayed = client.get(f"/audit/replay/identity/{pseudonym}", headers=director)
    assert replayed.json()["state"]["legal_name"] == LEGAL_NAME


def test_a_clinician_sees_nothing_of_the_audit_trail(client: TestClient, token_for: Tokens) -> None:
    pseudonym = enrol(client, token_for)
    clinician = token_for("C-1", "clinician")
    for path in ("/audit/events", "/audit/checkpoint", "/audit/proofs/inclusion?index=0",
                 "/audit/proofs/consistency?old=1", f"/audit/replay/subject/{pseudonym}",
                 "/audit/export?format=fhir", f"/subjects/{pseudonym}/access-report"):
        response = client.get(path, headers=clinician)
        assert response.status_code == 403, path
        assert pseudonym not in response.text
