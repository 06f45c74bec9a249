"""The Director's office over HTTP: hire, enrol an employee-client, list, resolve."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from ops.bootstrap import System
from tests import canaries, dbutil

LEGAL_NAME = "Oriana Feldspar-Quixley"
canaries.plant(LEGAL_NAME)
Tokens = Callable[..., dict[str, str]]


def audit_entries(system: System) -> list[dict[str, object]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def hire(client: TestClient, tokens: Tokens, staff_id: str = "R-1") -> None:
    response = client.post("/staff", headers=tokens("HR-1", "hr"), json={
        "staff_id": staff_id, "display_name": "Riley M.", "job_title": "recovery_support_specialist",
        "roles": ["peer_staff"], "hired_on": "2024-02-05"})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/staff/{staff_id}"


def test_enrol_list_and_resolve(client: TestClient, token_for: Tokens, app_system: System) -> None:
    hire(client, token_for)
    director = token_for("D-1", "director")
    created = client.post("/subjects", headers=director, json={
        "legal_name": LEGAL_NAME, "birth_date": "1988-04-02", "category": "employee",
        "staff_id": "R-1", "program_labels": ["SUD"]})
    assert created.status_code == 201, created.text
    pseudonym = created.json()["pseudonym"]
    assert LEGAL_NAME not in created.text
    listed = client.get("/subjects", headers=director)
    assert [s["pseudonym"] for s in listed.json()["items"]] == [pseudonym]
    assert LEGAL_NAME not in listed.text and listed.headers["Cache-Control"] == "no-store"
    resolved = client.post(f"/subjects/{pseudonym}/resolve", headers=director,
                           json={"reason": "payroll reconciliation"})
    assert resolved.json()["legal_name"] == LEGAL_NAME
    entries = audit_entries(app_system)
    assert [e["action"] for e in entries] == ["staff.create", "subject.enrol", "subject.list",
                                              "subject.resolve"]
    assert entries[-1]["justification"] == "payroll reconciliation"
    assert all(LEGAL_NAME not in str(e) for e in entries)


def test_only_the_director_resolves(client: TestClient, token_for: Tokens, app_system: System) -> None:
    response = client.post("/subjects/SQ-AAAA-BBBB/resolve", headers=token_for("A-1", "auditor"),
                           json={"reason": "curiosity"})
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"
    (entry,) = audit_entries(app_system)
    assert (entry["principal"], entry["decision"], entry["outcome"]) == ("A-1", "denied", "403")


def test_missing_and_forged_tokens_get_401_and_are_audited(
    client: TestClient, app_system: System
) -> None:
    response = client.get("/subjects")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    forged = client.get("/subjects", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401 and forged.json()["error"] == "Unauthorized"
    assert [e["principal"] for e in audit_entries(app_system)] == ["anonymous", "anonymous"]


def test_every_request_leaves_one_record_with_its_request_id(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    director = token_for("D-1", "director")
    cases = [
        client.get("/nowhere", headers={"X-Request-ID": "req-404"}),
        client.delete("/subjects", headers={**director, "X-Request-ID": "req-405"}),
        client.post("/subjects", headers={**director, "X-Request-ID": "req-422"}, json={"x": 1}),
        client.get("/subjects", headers={**director, "X-Request-ID": "req-200"}),
    ]
    assert [r.status_code for r in cases] == [404, 405, 422, 200]
    assert [r.headers["X-Request-ID"] for r in cases] == ["req-404", "req-405", "req-422", "req-200"]
    entries = audit_entries(app_system)
    assert [e["request_id"] for e in entries] == ["req-404", "req-405", "req-422", "req-200"]
    assert [e["outcome"] for e in entries] == ["404", "405", "422", "200"]
    assert [e["action"] for e in entries] == [
        "GET (unknown route)", "DELETE /subjects", "POST /subjects", "subject.list"]


def test_bad_input_changes_nothing(client: TestClient, token_for: Tokens, app_system: System) -> None:
    hr = token_for("HR-1", "hr")
    before = len(dbutil.rows(app_system))
    response = client.post("/staff", headers=hr, json={
        "staff_id": "../etc", "display_name": "x", "job_title": "clinician", "roles": ["clinician"],
        "hired_on": "2024-01-01", "unknown": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ValidationError" and "staff_id" in body["detail"]
    rows = dbutil.rows(app_system)
    assert len(rows) == before + 1 and rows[-1][2].endswith("AuditRecord.Recorded")


def test_health_readiness_and_metrics(client: TestClient, token_for: Tokens) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.get("/subjects", headers=token_for("D-1", "director"))
    text = client.get("/metrics").text
    assert 'sequester_http_requests_total{route="GET /subjects",status="200"} 1.0' in text
    assert "sequester_http_request_seconds_bucket" in text
