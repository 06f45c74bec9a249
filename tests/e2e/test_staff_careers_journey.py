"""A CRSS journey over HTTP with real tokens: HR records the way to the credential and its
upkeep, the Rule 132 facts, a team and trainings; the staff member reads its own records,
its supervisor reads them, a peer is refused. The staff member is also a client here, and
nothing in its career records says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ops.bootstrap import System
from tests import canaries, dbutil

Tokens = Callable[..., dict[str, str]]
LEGAL_NAME = "Orsolya Thistlewood-Kaine"
canaries.plant(LEGAL_NAME)
HR, DIRECTOR = ("HR-1", "hr"), ("D-1", "director")
SUPERVISOR, PEER, OTHER = ("M-1", "manager"), ("R-1", "peer_staff"), ("P-2", "peer_staff")
CRSS = "/staff/R-1/credentials"


class Http:
    def __init__(self, client: TestClient, tokens: Tokens) -> None:
        self.client, self.tokens = client, tokens

    def call(self, method: str, path: str, who: tuple[str, str], **kw: Any) -> httpx.Response:
        response: httpx.Response = self.client.request(
            method, path, headers=self.tokens(*who), **kw)
        return response

    def ok(self, method: str, path: str, who: tuple[str, str] = HR, **kw: Any) -> Any:
        response = self.call(method, path, who, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()


def audit_entries(system: System) -> list[dict[str, Any]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def hire_and_enrol(h: Http) -> str:
    for staff_id, title, role, supervisor in (
        ("M-1", "program_manager", "manager", None),
        ("R-1", "recovery_support_specialist", "peer_staff", "M-1"),
        ("P-2", "peer_support_specialist", "peer_staff", "M-1"),
    ):
        h.ok("POST", "/staff", json={"staff_id": staff_id, "display_name": staff_id,
                                     "job_title": title, "roles": [role],
                                     "hired_on": "2021-01-04", "supervisor_id": supervisor})
    enrolled = h.ok("POST", "/subjects", DIRECTOR, json={
        "legal_name": LEGAL_NAME, "birth_date": "1990-04-12", "category": "employee",
        "staff_id": "R-1", "enrolled_on": "2021-02-01"})
    return str(enrolled["pseudonym"])


def earn_crss(h: Http) -> None:
    """From the record's start to the grant and the first renewal."""
    h.ok("POST", CRSS, json={"started_on": "2021-03-01"})
    future = h.call("POST", f"{CRSS}/hours", HR, json={
        "category": "training", "hours": 1, "on": "2999-01-01"})
    assert future.status_code == 422 and future.json()["detail"] == "invalid or missing: on"
    h.ok("POST", f"{CRSS}/education", json={"kind": "ged", "completed_on": "2008-06-01"})
    h.ok("POST", f"{CRSS}/hours", json={"category": "work", "hours": 1999, "on": "2022-03-01",
                                        "paid": True})
    for domain in ("advocacy", "professional_responsibility", "mentoring", "recovery_support"):
        h.ok("POST", f"{CRSS}/hours", json={"category": "supervision", "hours": 25,
                                            "on": "2022-03-01", "domain": domain})
    h.ok("POST", f"{CRSS}/hours", json={"category": "training", "hours": 100,
                                        "on": "2022-03-01"})
    short = h.call("POST", f"{CRSS}/application", HR, json={"submitted_on": "2022-04-01"})
    assert short.status_code == 409
    assert "1 more work hours (1999 of 2000)" in short.json()["detail"]
    h.ok("POST", f"{CRSS}/hours", json={"category": "work", "hours": 1, "on": "2022-03-31",
                                        "paid": False})
    h.ok("POST", f"{CRSS}/application", json={"submitted_on": "2022-04-01"})
    h.ok("POST", f"{CRSS}/exam", json={"taken_on": "2022-05-02", "passed": False})
    h.ok("POST", f"{CRSS}/exam", json={"taken_on": "2022-06-06", "passed": True})
    h.ok("POST", f"{CRSS}/grant", json={"granted_on": "2022-07-01"})
    h.ok("POST", f"{CRSS}/renewals", json={"renewed_on": "2023-06-20"})


def keep_crss(h: Http) -> None:
    """The renewal closing the first two years needs its 40 CEU hours."""
    few = h.call("POST", f"{CRSS}/renewals", HR, json={"renewed_on": "2024-06-28"})
    assert few.status_code == 422 and few.json()["rule"] == "ceus_required"
    h.ok("POST", f"{CRSS}/ceus", json={"hours": 40, "completed_on": "2024-02-02"})
    h.ok("POST", f"{CRSS}/renewals", json={"renewed_on": "2024-06-28"})


def record_rule132_facts(h: Http) -> None:
    base = "/staff/R-1/qualifications"
    h.ok("POST", f"{base}/birth-date", json={"birth_date": "1990-04-12"})
    made = h.ok("POST", f"{base}/experience", json={
        "kind": "mental_health_services", "started_on": "2021-01-04", "supervised": True})
    assert made["number"] == 0
    for competency in ("skills_in_field", "works_within_agency_structure",
                       "works_constructively"):
        h.ok("POST", f"{base}/attestations", json={
            "competency": competency, "attested_by": "M-1", "attested_on": "2021-07-01"})


def test_hr_records_a_crss_journey_that_the_member_and_supervisor_read(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    h = Http(client, token_for)
    pseudonym = hire_and_enrol(h)
    earn_crss(h)
    keep_crss(h)
    own = h.ok("GET", f"{CRSS}?as_of=2024-07-01", PEER)
    assert (own["stage"], own["in_good_standing"], own["renewal_due_on"]) == (
        "in_good_standing", True, "2025-07-01")
    assert (own["exam_attempts"], own["ceus"]["starts_on"]) == (2, "2024-07-02")
    assert h.ok("GET", f"{CRSS}?as_of=2025-07-02", SUPERVISOR)["flags"][0] == {
        "item": "renewal", "status": "overdue", "due_on": "2025-07-01",
        "detail": "the annual renewal was due on 2025-07-01"}
    refused = h.call("GET", CRSS, OTHER)
    assert refused.status_code == 403 and refused.json()["rule"] == "career_records"
    last = audit_entries(app_system)[-1]
    assert (last["action"], last["target"], last["decision"], last["rule"]) == (
        "crss.read", "R-1", "denied", "career_records")
    readers = [e["rule"] for e in audit_entries(app_system) if e["action"] == "crss.read"]
    assert readers == ["self", "supervisor", "career_records"]
    record_rule132_facts(h)
    found = h.ok("GET", "/staff/R-1/qualifications?as_of=2024-07-01", PEER)["findings"]
    assert [(f["code"], f["met"]) for f in found] == [("RSA", True), ("MHP", True)]
    assert found[1]["basis"] == (
        "CRSS in good standing plus one year of mental-health service experience")
    assert [(f["name"], f["on"]) for f in found[1]["facts"]] == [
        ("crss_granted", "2022-07-01"), ("crss_renewed", "2023-06-20"),
        ("crss_renewed", "2024-06-28"), ("experience", "2021-01-04")]
    assert h.call("GET", "/staff/R-1/qualifications", OTHER).status_code == 403
    for response in (own, found):
        assert pseudonym not in str(response) and "SQ-" not in str(response)
    assert LEGAL_NAME not in str(own)


def test_a_team_loses_its_only_crss_and_no_view_names_the_client_record(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    h = Http(client, token_for)
    pseudonym = hire_and_enrol(h)
    earn_crss(h)
    h.ok("POST", "/teams", json={"team_id": "CST-1", "kind": "CST", "name": "North",
                                 "formed_on": "2022-01-03"})
    h.ok("POST", "/teams/CST-1/members", json={"staff_id": "R-1", "joined_on": "2022-08-01"})
    h.ok("POST", "/teams/CST-1/members", json={"staff_id": "P-2", "joined_on": "2022-08-01"})
    seen = h.ok("GET", "/teams/CST-1?as_of=2024-01-02", OTHER)  # a member reads its team
    assert seen["status"]["complete"] and seen["status"]["crss_members"] == ["R-1"]
    h.ok("POST", "/teams/CST-1/members/R-1/leave", json={"left_on": "2024-03-01"})
    assert h.call("GET", "/teams/CST-1", PEER).status_code == 403  # no longer a member
    status = h.ok("GET", "/teams?as_of=2024-03-01")[0]["status"]
    assert (status["complete"], status["incomplete_since"], status["reason"]) == (
        False, "2024-03-01", "R-1 left the team on 2024-03-01")
    h.ok("POST", "/staff/R-1/trainings", json={"training": "rss_practical_skills",
                                               "completed_on": "2022-02-01", "hours": 6})
    trainings = h.ok("GET", "/staff/R-1/trainings?as_of=2024-01-01", PEER)
    assert trainings["outstanding"] == [
        "the_vision", "person_first_language", "returning_after_absence",
        "rss_boundaries_and_role_conflicts"]
    assert h.call("GET", "/staff/R-1/trainings", OTHER).status_code == 403
    jobs = h.ok("GET", "/jobs", OTHER)
    assert {"recovery_services_supervisor", "recovery_support_specialist"} <= {
        j["code"] for j in jobs}
    team = h.ok("GET", "/teams/CST-1", HR)
    for view in (seen, team, status, trainings):
        assert pseudonym not in str(view) and "SQ-" not in str(view)
