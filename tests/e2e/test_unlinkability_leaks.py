"""One regression test per leak reproduced by issue 14, each as an insider would try it,
over HTTP with real tokens on both backends. (The property itself, over generated
request sequences, is tests/e2e/test_noninterference.py.)"""

from __future__ import annotations

import time
from typing import Any

import jwt
from fastapi.testclient import TestClient

from ops.bootstrap import System
from ops.keys.tokens import KID, PRIVATE_FILE
from tests import dbutil
from tests.e2e.test_chart_journeys import (
    CLINICIAN,
    DIRECTOR,
    PEER,
    PRIVACY,
    Journey,
    Tokens,
    World,
    audit_entries,
    build_world,
    enrol,
    grant,
    hire,
    without_ids,
)

MANAGER = ("M-1", "manager", "clinician")  # a supervisor who is also a clinician
AUDITOR = ("AU-1", "auditor")


def agency(client: TestClient, token_for: Tokens) -> tuple[Journey, World]:
    """build_world's agency (R-1 is a client in G-1 with the public figure), and its
    manager M-1 supervising R-1 through a second employee-client, R-2."""
    j = Journey(client, token_for)
    w = build_world(j)
    j.ok("POST", "/staff", ("HR-1", "hr"), json={
        "staff_id": "M-1", "display_name": "M-1", "job_title": "program_manager",
        "roles": ["manager"], "hired_on": "2023-05-01"})
    j.ok("POST", "/staff/M-1/confidentiality-agreements", ("HR-1", "hr"),
         json={"version": "2023-1", "signed_on": "2023-05-01"})
    return j, w


def refusal(j: Journey, who: tuple[str, ...], pseudonym: str, purpose: str = "TREAT") -> Any:
    response = j.get(f"/charts/{pseudonym}", who, params={"purpose": purpose})
    return response.status_code, response.json()


def test_1_the_denial_label_is_no_oracle(client: TestClient, token_for: Tokens) -> None:
    """R-1 on its own chart reads what R-3 reads; a supervisor reads the same for every
    purpose of use."""
    j, w = agency(client, token_for)
    hire(j, "R-3", "recovery_coach", "peer_staff")
    own = refusal(j, PEER, w.own)
    assert own == refusal(j, ("R-3", "peer_staff"), w.own) == (403, own[1])
    assert own[1]["rule"] == "no_grant"
    j.ok("POST", "/staff", ("HR-1", "hr"), json={
        "staff_id": "R-5", "display_name": "R-5", "job_title": "recovery_coach",
        "roles": ["peer_staff"], "hired_on": "2023-05-01", "supervisor_id": "M-1"})
    supervisee = enrol(j, "Pellucid Varnstrom-Ike", "employee", "R-5")  # M-1 supervises it
    assert refusal(j, MANAGER, supervisee, "TREAT")[1]["rule"] == refusal(
        j, MANAGER, supervisee, "HOPERAT")[1]["rule"] == "no_grant"


def test_2_the_auditor_cannot_prove_the_link(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j, w = agency(client, token_for)
    refusal(j, PEER, w.own)
    denied = j.ok("GET", "/audit/events", AUDITOR,
                  params={"decision": "denied", "after": app_system.audit.position()})["items"]
    assert {e["rule"] for e in denied} == {"no_grant"}
    subject = j.ok("GET", f"/audit/replay/subject/{w.own}", AUDITOR)["state"]
    assert {subject[k] for k in ("category", "groups", "labels", "clinicians", "staff_link")} == {
        "[redacted]"}
    staff = j.ok("GET", "/audit/replay/staff/R-1", AUDITOR)["state"]
    assert staff["supervisor_id"] == "[redacted]"


def test_3_link_rule_names_never_reach_the_public_trail(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j, w = agency(client, token_for)
    refused = j.post(f"/subjects/{w.own}/clinicians", DIRECTOR, json={"staff_id": "R-1"})
    assert (refused.status_code, refused.json()["rule"]) == (403, "self_clinician")  # director
    records = j.ok("GET", "/audit/events", AUDITOR,
                   params={"after": app_system.audit.position(), "limit": 500})["items"]
    rules = {e["rule"] for e in records}
    assert "sequestration" in rules
    assert not rules & {"self_clinician", "supervisor_as_clinician", "self_access",
                        "group_co_member"}
    export = j.get("/audit/export", AUDITOR).text
    assert "self_clinician" not in export


def test_4_replay_shows_no_more_than_the_routes(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j, w = agency(client, token_for)
    grant_id = grant(j, "C-1", w.other)
    use = j.ok("POST", f"/charts/{w.own}/break-glass", CLINICIAN,
               json={"purpose": "ETREAT", "reason": "crisis call from the lobby"})
    j.ok("POST", f"/break-glass/{use['break_glass_id']}/review", PRIVACY,
         json={"outcome": "appropriate", "notes": "documented emergency"})
    for who in (AUDITOR, DIRECTOR):
        use_state = j.ok("GET", f"/audit/replay/break_glass/{use['break_glass_id']}", who)["state"]
        assert use_state["reason"] == use_state["review_notes"] == "[redacted]"
    assert j.ok("GET", f"/audit/replay/grant/{grant_id}", AUDITOR)["state"][
        "justification"] == "[redacted]"
    missing = j.get(f"/audit/replay/grant/{grant_id}", AUDITOR, params={"version": 99})
    assert missing.status_code == 404 and "latest" not in missing.text


def test_5_break_glass_is_for_charting_clinicians_and_an_inappropriate_use_ends_it(
    client: TestClient, token_for: Tokens
) -> None:
    j, w = agency(client, token_for)
    body = {"purpose": "ETREAT", "reason": "crisis call from the lobby"}
    assert j.post(f"/charts/{w.other}/break-glass", PEER, json=body).json()["rule"] == "role"
    use = j.ok("POST", f"/charts/{w.other}/break-glass", CLINICIAN, json=body)
    j.ok("POST", f"/break-glass/{use['break_glass_id']}/review", PRIVACY,
         json={"outcome": "inappropriate", "notes": "no emergency on record"})
    assert j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "ETREAT"}).status_code == 403
    assert j.post(f"/charts/{w.other}/break-glass", CLINICIAN, json=body).json()["rule"] == (
        "break_glass_blocked")


def test_6_a_manager_steps_only_its_own_cases(client: TestClient, token_for: Tokens) -> None:
    j, _ = agency(client, token_for)
    hire(j, "M-2", "program_manager", "manager")
    case = j.ok("POST", "/dual-relationships", PEER, json={
        "staff_id": "R-1", "disclosed_to": "M-1", "counterpart_client_ref": "CL-1",
        "counterpart_case_status": "open", "kind": "social", "began_on": "2024-01-01",
        "predates_hire": False})["case_id"]
    other = ("M-2", "manager")
    assert j.post(f"/dual-relationships/{case}/referral", other).status_code == 403
    assert j.ok("GET", "/dual-relationships", other)["items"] == []
    assert j.post(f"/dual-relationships/{case}/referral", MANAGER).status_code == 201


def test_7_role_refused_chart_requests_are_audited_with_their_target(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j, w = agency(client, token_for)
    assert j.get(f"/charts/{w.own}", ("HR-1", "hr")).status_code == 403
    refused = audit_entries(app_system)[-1]
    assert (refused["target"], refused["rule"], refused["decision"]) == (w.own, "role", "denied")
    report = j.ok("GET", f"/subjects/{w.own}/access-report", DIRECTOR)["accesses"]
    assert [(a["principal"], a["decision"]) for a in report if a["principal"] != "D-1"] == [
        ("HR-1", "denied")]


def test_8_no_route_says_whether_a_pseudonym_or_file_exists(
    client: TestClient, token_for: Tokens
) -> None:
    j, w = agency(client, token_for)
    answers = []
    for pseudonym in (w.other, "SQ-ZZZZ-ZZZZ"):
        told = j.post("/dual-relationships", MANAGER, json={
            "staff_id": "R-1", "counterpart_pseudonym": pseudonym, "kind": "social",
            "began_on": "2024-01-01", "predates_hire": False})
        answers.append(told.status_code)
    assert answers == [201, 201]
    unknown = "/accommodations/00000000-0000-4000-8000-000000000000"
    refused = j.get(unknown, CLINICIAN)
    assert (refused.status_code, refused.json()["rule"]) == (403, "medical_file")


def test_9_malformed_claims_are_401_and_break_glass_reads_count_as_allowed(
    client: TestClient, token_for: Tokens, key_dir: Any, app_system: System
) -> None:
    now = int(time.time())
    claims = {"sub": "D-1", "roles": [["director"]], "iss": "sequester-dev", "aud": "sequester",
              "iat": now, "exp": now + 60}
    from jwt.algorithms import OKPAlgorithm

    key = OKPAlgorithm.from_jwk((key_dir / PRIVATE_FILE).read_text())
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KID})  # type: ignore[arg-type]
    before = len(dbutil.rows(app_system))
    bad = client.get("/subjects", headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 401 and "roles" in bad.json()["detail"]
    assert len(dbutil.rows(app_system)) == before + 1  # its audit record only
    j, w = agency(client, token_for)
    j.ok("POST", f"/charts/{w.other}/break-glass", CLINICIAN,
         json={"purpose": "ETREAT", "reason": "crisis call from the lobby"})
    j.ok("GET", f"/charts/{w.other}", CLINICIAN, params={"purpose": "ETREAT"})
    metrics = client.get("/metrics").text
    assert 'sequester_access_decisions_total{decision="allowed",rule="break_glass"} 2.0' in metrics
    assert 'decision="denied",rule="break_glass"' not in metrics


def test_10_implausible_dates_are_422_naming_the_bound(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j, w = agency(client, token_for)
    for who in (DIRECTOR, ("HR-1", "hr"), PRIVACY):
        token_for(*who)  # on staff before counting
    before = len(dbutil.rows(app_system))
    cases = [
        ("/subjects", DIRECTOR, {"legal_name": "A B", "birth_date": "1980-01-01",
                                 "category": "public_figure", "enrolled_on": "9999-12-31"}),
        ("/staff", ("HR-1", "hr"), {"staff_id": "E-9", "display_name": "E", "job_title": "clinician",
                                    "roles": ["clinician"], "hired_on": "0001-01-01"}),
        ("/grants", PRIVACY, {"grantee": "C-1", "pseudonym": w.other, "scope": "read",
                              "purpose": "TREAT", "expires_at": "9999-01-01T00:00:00Z",
                              "justification": "covering"}),
    ]
    for path, who, body in cases:
        refused = j.post(path, who, json=body)
        assert (refused.status_code, refused.json()["error"]) == (422, "OutOfRange"), refused.text
        assert any(c.isdigit() for c in refused.json()["detail"])  # it names the bound
    assert len(dbutil.rows(app_system)) == before + len(cases)  # their audit records only


def test_11_a_dump_without_keys_shows_no_whose_file_and_no_clinical_code(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j, w = agency(client, token_for)
    grant(j, "C-1", w.other)
    j.ok("POST", f"/charts/{w.other}/entries", CLINICIAN, json={
        "activity_type": "group_session", "service_code": "H0005", "service_date": "2024-06-03",
        "note": "Attended."})
    j.ok("POST", "/accommodations", PEER, json={"condition": "a condition", "requested": "later"})
    assert app_system.projections is not None
    app_system.projections.catch_up()
    cells = "\n".join(str(c) for c in dbutil.all_cells(app_system))
    assert "H0005" not in cells and "group_session" not in cells
    assert "42CFRPart2" not in cells and '"EMP"' not in cells
    from domain.base import KEK_MEDICAL
    from domain.staff.aggregate import staff_uuid
    from ops.keys.datakeys import data_key_id

    assert str(data_key_id(KEK_MEDICAL, staff_uuid("R-1"))) not in cells
    assert str(staff_uuid("R-1")) not in {str(r.subject_id) for r in
                                          app_system.keyring.store.for_kek(KEK_MEDICAL)}


def test_linked_and_unlinked_refusals_have_the_same_body(
    client: TestClient, token_for: Tokens
) -> None:
    j, w = agency(client, token_for)
    stranger = enrol(j, "Pellucid Varnstrom-Ike", "public_figure")
    bodies = []
    for pseudonym in (w.own, w.other, stranger):
        gid = grant(j, "R-1", pseudonym, scope="read", confirm=False)
        bodies.append(without_ids(refusal(j, PEER, pseudonym)[1], gid))
    assert bodies[0] == bodies[1] == bodies[2]
