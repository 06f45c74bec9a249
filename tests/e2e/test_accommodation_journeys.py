"""Accommodation requests over HTTP: the employee files, hr discusses and decides, the
supervisor sees the accommodation and never the condition, a coworker sees nothing, and
every request leaves exactly one audit record without a word of the medical file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ops.bootstrap import System
from tests import canaries, dbutil

CONDITION = "Recurrent migraine with photophobia (diagnosed 2019)"
HR_NOTE = "Discussed lighting; the migraine pattern follows early shifts."
EMPLOYEE_NOTE = "Mornings before nine are the hardest for me."
HARDSHIP = "Only one staff member covers the intake desk before nine."
canaries.plant(CONDITION, HR_NOTE, EMPLOYEE_NOTE)
Tokens = Callable[..., dict[str, str]]
REQUESTS = "/accommodations"


def audit_entries(system: System) -> list[dict[str, Any]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def staff(client: TestClient, tokens: Tokens) -> None:
    """Supervisor S-1 supervises employee E-1 and coworker E-2."""
    for staff_id, title, roles, supervisor in (
        ("S-1", "program_manager", ["manager"], None),
        ("E-1", "recovery_support_specialist", ["peer_staff"], "S-1"),
        ("E-2", "case_manager", ["clinician"], "S-1"),
    ):
        body = {"staff_id": staff_id, "display_name": staff_id, "job_title": title, "roles": roles,
                "hired_on": "2024-02-05", "supervisor_id": supervisor}
        assert client.post("/staff", headers=tokens("HR-1", "hr"), json=body).status_code == 201


def file(client: TestClient, tokens: Tokens) -> str:
    response = client.post(REQUESTS, headers=tokens("E-1", "peer_staff"), json={
        "condition": CONDITION, "requested": "Start at 10:00 on weekdays",
        "functions_affected": "early intake shifts"})
    assert response.status_code == 201, response.text
    request_id: str = response.json()["request_id"]
    assert response.headers["Location"] == f"{REQUESTS}/{request_id}"
    return request_id


def test_hr_discusses_and_denies_only_with_an_undue_hardship(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    staff(client, token_for)
    request_id = file(client, token_for)
    path = f"{REQUESTS}/{request_id}"
    hr, employee = token_for("HR-1", "hr"), token_for("E-1", "peer_staff")
    assert client.post(f"{path}/notes", headers=hr, json={"text": HR_NOTE}).status_code == 201
    assert client.post(f"{path}/notes", headers=employee,
                       json={"text": EMPLOYEE_NOTE}).status_code == 201
    before = len(dbutil.rows(app_system))
    bare = client.post(f"{path}/decision", headers=hr, json={"outcome": "deny"})
    assert bare.status_code == 422 and bare.json()["rule"] == "denial_requires_undue_hardship"
    rows = dbutil.rows(app_system)
    assert len(rows) == before + 1 and rows[-1][2].endswith("AuditRecord.Recorded")
    denied = client.post(f"{path}/decision", headers=hr,
                         json={"outcome": "deny", "undue_hardship": HARDSHIP})
    assert denied.status_code == 201, denied.text
    own = client.get(path, headers=employee).json()
    assert (own["view"], own["status"], own["condition"]) == ("employee", "denied", CONDITION)
    assert [n["text"] for n in own["notes"]] == [EMPLOYEE_NOTE]
    assert own["decision"]["undue_hardship"] == HARDSHIP
    whole = client.get(path, headers=hr).json()
    assert whole["view"] == "hr" and [n["role"] for n in whole["notes"]] == ["hr", "employee"]
    entries = audit_entries(app_system)[3:]  # after the hires
    assert [(e["action"], e["decision"], e["rule"]) for e in entries] == [
        ("accommodation.file", "allowed", "role"),
        ("accommodation.note", "allowed", "role"),
        ("accommodation.note", "allowed", "role"),
        ("accommodation.deny", "failed", "denial_requires_undue_hardship"),
        ("accommodation.deny", "allowed", "role"),
        ("accommodation.read", "allowed", "employee"),
        ("accommodation.read", "allowed", "hr")]
    assert [e["target"] for e in entries] == ["E-1"] + [request_id] * 6


def test_the_supervisor_sees_the_accommodation_and_a_coworker_nothing(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    staff(client, token_for)
    request_id = file(client, token_for)
    path = f"{REQUESTS}/{request_id}"
    client.post(f"{path}/notes", headers=token_for("HR-1", "hr"), json={"text": HR_NOTE})
    granted = client.post(f"{path}/decision", headers=token_for("HR-1", "hr"), json={
        "outcome": "grant", "accommodation": "Start at 09:30 on weekdays",
        "effective_on": "2030-01-06"})
    assert granted.status_code == 201, granted.text
    supervisor = client.get(path, headers=token_for("S-1", "manager"))
    seen = supervisor.json()
    assert (seen["view"], seen["status"], seen["accommodation"]) == (
        "supervisor", "granted", "Start at 09:30 on weekdays")
    assert "condition" not in seen and "notes" not in seen
    assert CONDITION not in supervisor.text and HR_NOTE not in supervisor.text
    coworker = token_for("E-2", "clinician")
    refusals = [
        client.get(path, headers=coworker),
        client.post(f"{path}/notes", headers=coworker, json={"text": HR_NOTE}),
        client.post(f"{path}/decision", headers=coworker,
                    json={"outcome": "deny", "undue_hardship": HARDSHIP}),
        client.post(f"{path}/decline", headers=coworker, json={}),
        client.post(REQUESTS, headers=token_for("HR-1", "hr"), json={
            "employee_id": "E-1", "condition": CONDITION, "requested": "x"}),
    ]
    assert [r.status_code for r in refusals] == [403, 403, 403, 403, 422]
    assert all(CONDITION not in r.text and HR_NOTE not in r.text for r in refusals)
    assert all("E-1" not in r.text for r in refusals[:4])  # the employee is not named
    rules = [e["rule"] for e in audit_entries(app_system)[-5:]]
    assert rules == ["medical_file", "medical_file", "role", "medical_file", "employee_only"]
    # an id that names no request reads exactly like another's file
    unknown = f"{REQUESTS}/00000000-0000-4000-8000-000000000000"
    for method, suffix, body in (("GET", "", None), ("POST", "/notes", {"text": "x"}),
                                 ("POST", "/decline", {})):
        mine = client.request(method, f"{path}{suffix}", headers=coworker, json=body)
        none = client.request(method, f"{unknown}{suffix}", headers=coworker, json=body)
        assert (mine.status_code, mine.json()["rule"]) == (none.status_code, none.json()["rule"])
        assert mine.json()["detail"].replace(str(request_id), "<id>") == none.json()[
            "detail"].replace("00000000-0000-4000-8000-000000000000", "<id>")


def test_the_employee_declines_what_was_granted_once(
    client: TestClient, token_for: Tokens
) -> None:
    staff(client, token_for)
    request_id = file(client, token_for)
    path = f"{REQUESTS}/{request_id}"
    employee = token_for("E-1", "peer_staff")
    early = client.post(f"{path}/decline", headers=employee, json={})
    assert early.status_code == 409
    client.post(f"{path}/decision", headers=token_for("HR-1", "hr"), json={
        "outcome": "grant", "accommodation": "A desk away from the window",
        "effective_on": "2030-01-06"})
    stale = client.post(f"{path}/decline", headers=employee, json={"accommodation": "Start at 10:00"})
    assert stale.status_code == 422 and stale.json()["rule"] == "decline_names_current_offer"
    declined = client.post(f"{path}/decline", headers=employee, json={"reason": "not needed"})
    assert declined.status_code == 200, declined.text
    own = client.get(path, headers=employee).json()
    assert own["status"] == "declined" and own["declines"][0]["from"] == "granted"
    assert client.post(f"{path}/decline", headers=employee, json={}).status_code == 409


def test_every_request_leaves_exactly_one_audit_record(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    staff(client, token_for)
    before = len(audit_entries(app_system))
    hr, employee = token_for("HR-1", "hr"), token_for("E-1", "peer_staff")
    request_id = file(client, token_for)
    path = f"{REQUESTS}/{request_id}"
    responses = [
        client.post(f"{path}/notes", headers=hr, json={"text": HR_NOTE}),
        client.post(f"{path}/notes", headers=hr, json={"text": ""}),
        client.post(f"{path}/decision", headers=hr, json={"outcome": "grant"}),
        client.post(f"{path}/decision", headers=employee, json={"outcome": "deny"}),
        client.get(path, headers=token_for("S-1", "manager")),
        client.get(f"{REQUESTS}/{'0' * 32}", headers=hr),
        client.get(path),
    ]
    assert [r.status_code for r in responses] == [201, 422, 422, 403, 200, 404, 401]
    entries = audit_entries(app_system)[before:]
    assert len(entries) == 1 + len(responses)
    assert all(s not in str(e) for e in entries for s in (CONDITION, HR_NOTE))
