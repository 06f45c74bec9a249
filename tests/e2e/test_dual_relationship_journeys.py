"""Dual-relationship cases over HTTP: a disclosure taken through the county procedure,
refusals by role and order, the two-year rule against a sequestered client's chart,
and the Clinical Deputy's queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from ops.bootstrap import System
from tests import canaries, dbutil
from tests.principals import staff_tokens

GUIDANCE = "Counsel: exception permissible if the member never charts for the partner."
RATIONALE = "Long-standing partner met before hire; no clinical role is planned."
canaries.plant("Quillon Brassmere-Oyelaran")
Tokens = Callable[..., dict[str, str]]
TODAY = datetime.now(UTC).date()
CASES = "/dual-relationships"


def audit_entries(system: System) -> list[dict[str, Any]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def hire(client: TestClient, tokens: Tokens, staff_id: str, title: str, roles: list[str],
         supervisor: str | None = None) -> None:
    body: dict[str, Any] = {"staff_id": staff_id, "display_name": staff_id, "job_title": title,
                            "roles": roles, "hired_on": "2024-02-05"}
    if supervisor:
        body["supervisor_id"] = supervisor
    response = client.post("/staff", headers=tokens("HR-1", "hr"), json=body)
    assert response.status_code == 201, response.text


def agency(client: TestClient, tokens: Tokens, *members: str) -> None:
    """Manager M-1 and peer staff members it supervises."""
    hire(client, tokens, "M-1", "program_manager", ["manager"])
    for member in members:
        hire(client, tokens, member, "recovery_support_specialist", ["peer_staff"], "M-1")


def disclosure(staff_id: str = "R-1", **changes: Any) -> dict[str, Any]:
    body = {"staff_id": staff_id, "counterpart_client_ref": "CL-1001",
            "counterpart_case_status": "closed", "counterpart_case_closed_on": "2019-05-01",
            "kind": "romantic", "began_on": "2023-12-01", "predates_hire": True}
    return {**body, **changes}


def disclose(client: TestClient, tokens: Tokens, **changes: Any) -> tuple[str, int]:
    response = client.post(CASES, headers=tokens("M-1", "manager"), json=disclosure(**changes))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{CASES}/{body['case_id']}"
    return body["case_id"], body["position"]


def test_a_disclosure_goes_through_every_step_to_closure(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    agency(client, token_for, "R-1")
    case_id, _ = disclose(client, token_for)
    case = f"{CASES}/{case_id}"
    manager, counsel = token_for("M-1", "manager"), token_for("CC-1", "county_counsel")
    deputy, director = token_for("CD-1", "clinical_deputy"), token_for("D-1", "director")
    steps = [
        (manager, f"{case}/referral", None),
        (counsel, f"{case}/guidance", {"guidance": GUIDANCE}),
        (deputy, f"{case}/recommendation",
         {"outcome": "exception_with_conditions", "rationale": RATIONALE}),
        (director, f"{case}/decision", {"outcome": "exception_with_conditions",
                                        "conditions": ["No access to the partner's chart",
                                                       "Quarterly supervision check-in"]}),
    ]
    for headers, path, body in steps:
        response = client.post(path, headers=headers, json=body)
        assert response.status_code == 201, (path, response.text)
        assert response.json()["position"] > 0
    seen = client.get(case, headers=deputy).json()
    assert (seen["current_step"], seen["decision"]["outcome"]) == ("conditions", "exception_with_conditions")
    assert seen["guidance"]["text"] == GUIDANCE and seen["recommendation"]["by"] == "CD-1"
    assert (seen["disclosed_to"], seen["recorded_by"], seen["hired_on"]) == ("M-1", "M-1", "2024-02-05")
    assert seen["late_report"] is True and seen["prohibited"] is False
    assert client.post(f"{case}/conditions/0/met", headers=manager).status_code == 200
    assert client.post(f"{case}/conditions/1/met", headers=deputy, json={}).status_code == 200
    assert client.post(f"{case}/close", headers=deputy).status_code == 200
    closed = client.get(case, headers=deputy).json()
    assert closed["current_step"] == "closed" and closed["closure"]["by"] == "CD-1"
    assert [c["met_by"] for c in closed["conditions"]] == ["M-1", "CD-1"]
    entries = audit_entries(app_system)[2:]  # after the two hires
    assert [e["action"] for e in entries] == [
        "dual_relationship.disclose", "dual_relationship.refer", "dual_relationship.guidance",
        "dual_relationship.recommend", "dual_relationship.decide", "dual_relationship.read",
        "dual_relationship.condition_met", "dual_relationship.condition_met",
        "dual_relationship.close", "dual_relationship.read"]
    assert {e["decision"] for e in entries} == {"allowed"}
    assert [e["target"] for e in entries] == ["R-1"] + [case_id] * 9
    assert all(GUIDANCE not in str(e) and RATIONALE not in str(e) for e in entries)


def test_the_staff_member_reads_its_case_without_counsels_words(
    client: TestClient, token_for: Tokens
) -> None:
    agency(client, token_for, "R-1", "R-2")
    case_id, _ = disclose(client, token_for)
    case = f"{CASES}/{case_id}"
    client.post(f"{case}/referral", headers=token_for("M-1", "manager"))
    client.post(f"{case}/guidance", headers=token_for("CC-1", "county_counsel"),
                json={"guidance": GUIDANCE})
    own = client.get(case, headers=token_for("R-1", "peer_staff"))
    assert own.status_code == 200 and own.json()["guidance"]["by"] == "CC-1"
    assert own.json()["guidance"]["text"] is None and GUIDANCE not in own.text
    coworker = client.get(case, headers=token_for("R-2", "peer_staff"))
    unknown = client.get(f"{CASES}/{'0' * 32}", headers=token_for("R-2", "peer_staff"))
    assert coworker.status_code == unknown.status_code == 403
    assert coworker.json()["rule"] == unknown.json()["rule"] == "dual_relationship_reader"
    assert client.get(f"{CASES}/{'0' * 32}", headers=token_for("D-1", "director")).status_code == 404
    other_manager = client.get(case, headers=token_for("M-9", "manager"))
    assert other_manager.status_code == 403


def test_wrong_roles_are_refused_and_steps_keep_their_order(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    agency(client, token_for, "R-1", "R-2")
    case_id, _ = disclose(client, token_for)
    case = f"{CASES}/{case_id}"
    before = len(audit_entries(app_system))
    attempts = [
        (token_for("R-2", "peer_staff"), CASES, disclosure(), 403, "disclose_requires_self_or_manager"),
        (token_for("CD-1", "clinical_deputy"), f"{case}/referral", None, 403, "role"),
        (token_for("D-1", "director"), f"{case}/decision", {"outcome": "reassign"}, 409, "role"),
        # County Counsel handles referred cases only: before the referral it sees none
        (token_for("CC-1", "county_counsel"), f"{case}/guidance", {"guidance": GUIDANCE}, 403,
         "dual_relationship_reader"),
        # a manager the disclosure was not made to does not handle it
        (token_for("M-2", "manager"), f"{case}/referral", None, 403, "dual_relationship_reader"),
        (token_for("M-1", "manager"), f"{case}/referral", None, 201, "role"),
        (token_for("M-1", "manager"), f"{case}/referral", None, 409, "role"),
        (token_for("D-1", "director"), f"{case}/guidance", {"guidance": GUIDANCE}, 403,
         "guidance_requires_county_counsel"),
        (token_for("CD-1", "clinical_deputy"), f"{case}/guidance",
         {"waived": True, "reason": "counsel unavailable; routine reassignment"}, 201, "role"),
        (token_for("CC-1", "county_counsel"), f"{case}/guidance", {"guidance": GUIDANCE}, 409, "role"),
        (token_for("R-1", "clinical_deputy"), f"{case}/recommendation",
         {"outcome": "reassign", "rationale": RATIONALE}, 403, "self_review"),
        (token_for("D-1", "director"), f"{case}/close", None, 409, "role"),
    ]
    for headers, path, body, code, _ in attempts:
        response = client.post(path, headers=headers, json=body)
        assert response.status_code == code, (path, response.text)
        assert GUIDANCE not in response.text
    entries = audit_entries(app_system)[before:]
    assert len(entries) == len(attempts)
    assert [e["rule"] for e in entries] == [a[4] for a in attempts]
    assert [e["decision"] for e in entries] == [
        "denied", "denied", "failed", "denied", "denied", "allowed", "failed", "denied",
        "allowed", "failed", "denied", "failed"]
    assert client.get(case, headers=token_for("CD-1", "clinical_deputy")).json()[
        "guidance_waiver"]["role"] == "clinical_deputy"


def test_a_romance_with_a_client_closed_under_two_years_ago_is_never_no_conflict(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    agency(client, token_for, "R-1")
    director = token_for("D-1", "director")
    enrolled = client.post("/subjects", headers=director, json={
        "legal_name": "Quillon Brassmere-Oyelaran", "birth_date": "1979-03-03",
        "category": "public_figure", "enrolled_on": "2024-01-15"})
    pseudonym = enrolled.json()["pseudonym"]
    closed_on = TODAY - timedelta(days=200)
    app_system.charts.close_chart(pseudonym, closed_on, "C-1")
    began = str(closed_on + timedelta(days=30))
    by_chart = {"counterpart_pseudonym": pseudonym, "counterpart_client_ref": None,
                "counterpart_case_status": None, "counterpart_case_closed_on": None,
                "began_on": began, "predates_hire": False}
    told = client.post(CASES, headers=token_for("M-1", "manager"),
                       json=disclosure(**{**by_chart, "counterpart_case_status": "open"}))
    assert told.status_code == 400 and "from the subject's chart" in told.json()["detail"]
    case_id, _ = disclose(client, token_for, **by_chart)
    case = f"{CASES}/{case_id}"
    seen = client.get(case, headers=director).json()
    assert seen["prohibited"] is True
    assert seen["counterpart"] == {"pseudonym": pseudonym, "client_ref": None,
                                   "case_status": "closed", "case_closed_on": str(closed_on),
                                   "unknown": False}
    # the manager handling it sees neither the chart's status nor the finding
    managed = client.get(case, headers=token_for("M-1", "manager")).json()
    assert managed["prohibited"] is None and managed["counterpart"]["case_status"] is None
    client.post(f"{case}/referral", headers=token_for("M-1", "manager"))
    client.post(f"{case}/guidance", headers=director, json={"waived": True, "reason": "urgent"})
    deputy = token_for("CD-1", "clinical_deputy")
    refused = client.post(f"{case}/recommendation", headers=deputy,
                          json={"outcome": "no_conflict", "rationale": RATIONALE})
    assert refused.status_code == 422 and refused.json()["rule"] == "two_year_rule"
    assert client.post(f"{case}/recommendation", headers=deputy,
                       json={"outcome": "reassign", "rationale": RATIONALE}).status_code == 201
    decided = client.post(f"{case}/decision", headers=director, json={"outcome": "no_conflict"})
    assert decided.status_code == 422 and decided.json()["error"] == "RuleViolation"
    assert audit_entries(app_system)[-1]["rule"] == "two_year_rule"
    assert client.post(f"{case}/decision", headers=director,
                       json={"outcome": "reassign"}).status_code == 201


def test_the_queue_shows_overdue_cases_first_to_those_who_may_see_them(
    client: TestClient, token_for: Tokens
) -> None:
    agency(client, token_for, "R-1", "R-2", "R-3")
    hire(client, token_for, "M-2", "program_manager", ["manager"])
    common = {"counterpart_case_status": "open", "counterpart_case_closed_on": None,
              "kind": "financial", "began_on": "2024-06-01", "predates_hire": False}
    late, _ = disclose(client, token_for, staff_id="R-1", **common,
                       disclosed_on=str(TODAY - timedelta(days=20)))
    fresh, _ = disclose(client, token_for, staff_id="R-2", **common)
    referred, _ = disclose(client, token_for, staff_id="R-3", **common,
                           disclosed_on=str(TODAY - timedelta(days=3)))
    client.post(f"{CASES}/{referred}/referral", headers=token_for("M-1", "manager"))
    own = client.post(CASES, headers=token_for("R-3", "peer_staff"),
                      json=disclosure("R-3", disclosed_to="M-2", **common))
    assert own.status_code == 201, own.text
    position = own.json()["position"]
    deputy = token_for("CD-1", "clinical_deputy")

    def ids(headers: dict[str, str], **params: Any) -> list[str]:
        response = client.get(CASES, headers=headers, params={"after": position, **params})
        assert response.status_code == 200, response.text
        return [item["case_id"] for item in response.json()["items"]]

    everything = client.get(CASES, headers=deputy, params={"after": position}).json()["items"]
    assert everything[0]["case_id"] == late and everything[0]["overdue"] is True
    assert everything[0]["age_days"] == 20 and everything[0]["current_step"] == "referral"
    assert len(everything) == 4 and not any(i["overdue"] for i in everything[1:])
    assert ids(deputy, overdue="true") == [late]
    assert ids(deputy, step="guidance") == [referred]
    assert ids(deputy, status="closed") == []
    page = client.get(CASES, headers=deputy, params={"limit": 1, "offset": 1}).json()
    assert len(page["items"]) == 1 and page["next_offset"] == 2
    assert ids(token_for("CC-1", "county_counsel")) == [referred]
    assert set(ids(token_for("M-1", "manager"))) == {late, fresh, referred}
    assert ids(token_for("M-2", "manager")) == [own.json()["case_id"]]
    assert client.get(CASES, headers=token_for("R-1", "peer_staff")).status_code == 403


def test_bad_disclosures_change_nothing_but_the_audit_trail(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    agency(client, token_for, "R-1")
    manager = token_for("M-1", "manager")
    bad = [
        ({**disclosure(), "mood": "tense"}, 422),
        (disclosure(kind="platonic"), 422),
        (disclosure(disclosed_on=str(TODAY + timedelta(days=1))), 400),
        (disclosure(predates_hire=False), 400),
        (disclosure(counterpart_pseudonym="SQ-AAAA-BBBB"), 400),
        (disclosure(staff_id="R-404"), 404),
    ]
    for body, code in bad:
        before = len(dbutil.rows(app_system))
        response = client.post(CASES, headers=manager, json=body)
        assert response.status_code == code, (body, response.text)
        rows = dbutil.rows(app_system)
        assert len(rows) == before + 1 and rows[-1][2].endswith("AuditRecord.Recorded")
    self_told = client.post(CASES, headers=token_for("R-1", "peer_staff"), json=disclosure())
    assert self_told.status_code == 400 and "disclosed_to" in self_told.json()["detail"]


def test_without_read_models_the_queue_is_folded_from_the_log(
    memory_system: System, key_dir: Path
) -> None:
    token_for = staff_tokens(key_dir, memory_system)
    with TestClient(create_app(memory_system.settings, memory_system)) as client:
        agency(client, token_for, "R-1", "R-2")
        late, _ = disclose(client, token_for, disclosed_on=str(TODAY - timedelta(days=9)))
        fresh, _ = disclose(client, token_for, staff_id="R-2")
        client.post(f"{CASES}/{fresh}/referral", headers=token_for("M-1", "manager"))
        deputy = token_for("CD-1", "clinical_deputy")
        items = client.get(CASES, headers=deputy).json()["items"]
        assert [(i["case_id"], i["overdue"], i["current_step"]) for i in items] == [
            (late, True, "referral"), (fresh, False, "guidance_and_recommendation")]
        overdue = client.get(CASES, headers=deputy, params={"overdue": "true", "status": "open"})
        assert [i["case_id"] for i in overdue.json()["items"]] == [late]


def test_a_disclosure_naming_an_unknown_pseudonym_reads_as_one_naming_a_known_one(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    """A disclosure must not tell the discloser which pseudonyms exist."""
    agency(client, token_for, "R-1")
    director, manager = token_for("D-1", "director"), token_for("M-1", "manager")
    known = client.post("/subjects", headers=director, json={
        "legal_name": "Quillon Brassmere-Oyelaran", "birth_date": "1979-03-03",
        "category": "public_figure", "enrolled_on": "2024-01-15"}).json()["pseudonym"]
    views = []
    for pseudonym in (known, "SQ-ZZZZ-ZZZZ"):
        body = disclosure(counterpart_pseudonym=pseudonym, counterpart_client_ref=None,
                          counterpart_case_status=None, counterpart_case_closed_on=None)
        told = client.post(CASES, headers=manager, json=body)
        assert told.status_code == 201, told.text
        seen = client.get(f"{CASES}/{told.json()['case_id']}", headers=manager).json()
        views.append({k: v for k, v in seen.items() if k not in ("case_id",)}
                     | {"counterpart": {**seen["counterpart"], "pseudonym": None}})
        deputy = client.get(f"{CASES}/{told.json()['case_id']}",
                            headers=token_for("CD-1", "clinical_deputy")).json()
        assert deputy["counterpart"]["unknown"] is (pseudonym != known)
    assert views[0] == views[1]


def test_only_the_cases_own_handlers_meet_its_conditions(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    agency(client, token_for, "R-1")
    hire(client, token_for, "M-2", "program_manager", ["manager"])
    case_id, _ = disclose(client, token_for)
    case = f"{CASES}/{case_id}"
    director = token_for("D-1", "director")
    client.post(f"{case}/referral", headers=token_for("M-1", "manager"))
    client.post(f"{case}/guidance", headers=director, json={"waived": True, "reason": "urgent"})
    client.post(f"{case}/recommendation", headers=token_for("CD-1", "clinical_deputy"),
                json={"outcome": "reassign", "rationale": RATIONALE})
    client.post(f"{case}/decision", headers=director,
                json={"outcome": "exception_with_conditions", "conditions": ["quarterly check"]})
    other = client.post(f"{case}/conditions/0/met", headers=token_for("M-2", "manager"))
    assert (other.status_code, other.json()["rule"]) == (403, "dual_relationship_reader")
    queue = client.get(CASES, headers=token_for("M-2", "manager")).json()["items"]
    assert queue == []
    met = client.post(f"{case}/conditions/0/met", headers=token_for("M-1", "manager"))
    assert met.status_code == 200, met.text
