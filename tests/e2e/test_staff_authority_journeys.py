"""Over HTTP on both backends: role changes and separations are audited commands of
their own; no one hands out a role more powerful than their own; a change counts from
the next request; every request leaves exactly one audit record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from ops.bootstrap import System
from tests import dbutil
from tests.e2e.test_chart_journeys import DIRECTOR, HR, Journey, Tokens
from tests.principals import token_headers

TODAY = datetime.now(UTC).date()


def hire_body(staff_id: str, *roles: str, title: str = "clinician") -> dict[str, object]:
    return {"staff_id": staff_id, "display_name": staff_id, "job_title": title,
            "roles": list(roles), "hired_on": "2024-01-08"}


def test_hr_hires_into_the_roles_it_may_grant_and_no_more(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    j.ok("POST", "/staff", DIRECTOR, json=hire_body("D-2", "director", title="director"))
    assert j.post("/staff", HR, json=hire_body("C-1", "clinician", "manager")).status_code == 201
    before = len(dbutil.rows(app_system))
    for roles in (["privacy_officer"], ["clinician", "auditor"], ["director"]):
        refused = j.post("/staff", HR, json=hire_body("X-1", *roles))
        assert (refused.status_code, refused.json()["rule"]) == (403, "role_grant"), roles
    assert not app_system.staff.exists("X-1")
    assert len(dbutil.rows(app_system)) == before + 3  # the three refusals' audit records
    j.ok("POST", "/staff", DIRECTOR, json=hire_body("PO-2", "privacy_officer",
                                                     title="privacy_officer"))
    entries = j.audited_once_each(app_system)
    assert [(e["action"], e["decision"], e["rule"]) for e in entries[-4:]] == [
        ("staff.create", "denied", "role_grant")] * 3 + [("staff.create", "allowed", "role")]


def test_role_changes_are_their_own_audited_route_and_count_on_the_next_request(
    client: TestClient, token_for: Tokens, app_system: System, key_dir: Path
) -> None:
    j = Journey(client, token_for)
    j.ok("POST", "/staff", HR, json=hire_body("C-1", "clinician"))
    # the token claims manager too; the staff record holds only clinician, so far
    as_manager = {**token_headers(key_dir, "C-1", ["clinician", "manager"]),
                  "X-Request-ID": "as-manager-1"}
    assert client.get("/dual-relationships", headers=as_manager).status_code == 403
    changed = j.ok("PUT", "/staff/C-1/roles", HR, json={"roles": ["manager", "clinician"]})
    assert changed["roles"] == ["clinician", "manager"] and changed["position"] > 0
    as_manager["X-Request-ID"] = "as-manager-2"
    assert client.get("/dual-relationships", headers=as_manager).status_code == 200
    j.sent[1:1] = ["as-manager-1"]
    j.sent.insert(3, "as-manager-2")
    for who, roles, rule in ((HR, ["clinician", "auditor"], "role_grant"),
                             (("M-1", "manager"), ["clinician"], "role"),
                             (HR, ["hr"], "own_roles")):
        target = "HR-1" if rule == "own_roles" else "C-1"
        refused = j.call("PUT", f"/staff/{target}/roles", who, json={"roles": roles})
        assert (refused.status_code, refused.json()["rule"]) == (403, rule)
    assert app_system.staff.get("C-1").roles == ["clinician", "manager"]
    bad = j.call("PUT", "/staff/C-1/roles", HR, json={"roles": ["root"]})
    assert bad.status_code == 422
    entries = j.audited_once_each(app_system)
    assert [(e["action"], e["decision"], e["rule"]) for e in entries[1:4]] == [
        ("GET /dual-relationships", "denied", "role"), ("staff.roles", "allowed", "role"),
        ("dual_relationship.queue", "allowed", "role")]


def test_a_separation_ends_access_from_the_next_request(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    j.ok("POST", "/staff", HR, json=hire_body("C-1", "clinician"))
    clinician = ("C-1", "clinician")
    assert j.get("/staff/C-1", clinician).status_code == 200
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    ahead = j.post("/staff/C-1/separation", HR, json={"separated_on": tomorrow, "reason": "x"})
    assert ahead.status_code == 400 and "after today" in ahead.json()["detail"]
    by_director = j.post("/staff/C-1/separation", DIRECTOR,
                         json={"separated_on": TODAY.isoformat(), "reason": "resigned"})
    assert (by_director.status_code, by_director.json()["rule"]) == (403, "role")
    j.ok("POST", "/staff/C-1/separation", HR,
         json={"separated_on": TODAY.isoformat(), "reason": "resigned"})
    refused = j.get("/staff/C-1", clinician)
    assert (refused.status_code, refused.json()["rule"]) == (403, "separated")
    record = j.ok("GET", "/staff/C-1", HR)
    assert record["separated_on"] == TODAY.isoformat()
    again = j.post("/staff/C-1/separation", HR,
                   json={"separated_on": TODAY.isoformat(), "reason": "resigned"})
    assert (again.status_code, again.json()["rule"]) == (422, "separated")
    entries = j.audited_once_each(app_system)
    assert [(e["action"], e["decision"], e["rule"]) for e in entries[-6:]] == [
        ("staff.separation", "failed", "role"),
        ("POST /staff/{staff_id}/separation", "denied", "role"),
        ("staff.separation", "allowed", "role"),
        ("GET /staff/{staff_id}", "denied", "separated"),
        ("staff.read", "allowed", "role"),
        ("staff.separation", "failed", "separated"),
    ]
    assert all("resigned" not in str(e) for e in entries)


def test_the_directors_office_is_never_left_empty(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    token_for(*DIRECTOR)  # D-1, the only director
    refused = j.post("/staff/D-1/separation", HR,
                     json={"separated_on": TODAY.isoformat(), "reason": "retired"})
    assert (refused.status_code, refused.json()["rule"]) == (422, "last_director")
    assert app_system.staff.get("D-1").separated_on is None
    j.audited_once_each(app_system)


def test_staff_ids_in_paths_are_percent_encoded_and_emails_match_in_any_case(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    created = j.ok("POST", "/staff", HR, json=hire_body("Jo.Smith@Agency.Example", "clinician"))
    assert created["staff_id"] == "jo.smith@agency.example"
    j.ok("POST", "/staff", HR, json=hire_body("auth0|5f3c9a", "peer_staff",
                                               title="recovery_coach"))
    assert j.ok("GET", "/staff/auth0%7C5f3c9a", HR)["staff_id"] == "auth0|5f3c9a"
    assert j.ok("GET", "/staff/JO.SMITH%40agency.example", HR)["staff_id"] == (
        "jo.smith@agency.example")
    for bad in ("a%2Fb", "a%20b", "%2E%2E", "a%00b"):
        assert j.get(f"/staff/{bad}", HR).status_code in (400, 404, 422), bad
    j.audited_once_each(app_system)
