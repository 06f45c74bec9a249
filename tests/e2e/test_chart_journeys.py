"""Charts over HTTP: a clinician charts and reads; deny rules, unknown pseudonyms,
closing and reopening; every request leaves exactly one audit record."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.schemas.charts import ChartPublic
from domain.staff.authority import grantable_by
from ops.bootstrap import System
from tests import canaries, dbutil
from tests.e2e.test_http_security import break_the_audit_trail

Tokens = Callable[..., dict[str, str]]
NOTE = "Discussed sleep hygiene with Quillon Marsh-Ebbetts"
canaries.plant(NOTE, "Pellucid Varnstrom-Ike")
CLINICIAN = ("C-1", "clinician")
PEER = ("R-1", "peer_staff")
HR = ("HR-1", "hr")
DIRECTOR = ("D-1", "director")
PRIVACY = ("PO-1", "privacy_officer")
UNKNOWN = "SQ-ZZZZ-ZZZZ"


def audit_entries(system: System) -> list[dict[str, Any]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def director_notes(system: System) -> list[str]:
    """The precise rules kept for the Director's office behind link-based refusals."""
    rows = [r for r in dbutil.rows(system) if r[2].endswith("DirectorAuditNote.Noted")]
    return [system.audit.repository.get(r[0]).rule for r in rows]


@dataclass
class Journey:
    """Sends each request as a principal, with its own request id, and remembers them."""

    client: TestClient
    tokens: Tokens
    sent: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, who: tuple[str, ...], **kw: Any) -> httpx.Response:
        request_id = f"req-{len(self.sent) + 1}"
        self.sent.append(request_id)
        headers = {**self.tokens(*who), "X-Request-ID": request_id}
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, who: tuple[str, ...], **kw: Any) -> httpx.Response:
        return self.call("GET", path, who, **kw)

    def post(self, path: str, who: tuple[str, ...], **kw: Any) -> httpx.Response:
        return self.call("POST", path, who, **kw)

    def ok(self, method: str, path: str, who: tuple[str, ...], **kw: Any) -> dict[str, Any]:
        response = self.call(method, path, who, **kw)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    def audited_once_each(self, system: System) -> list[dict[str, Any]]:
        """Every request sent left exactly one audit record, in order."""
        entries = audit_entries(system)
        assert [e["request_id"] for e in entries] == self.sent
        return entries


@dataclass
class World:
    own: str  # R-1's own sequestered chart (R-1 is an employee-client)
    other: str  # a public figure's chart; it attended R-1's group at the same time


def hire(j: Journey, staff_id: str, job_title: str, role: str, agreement: bool = True) -> None:
    """Hired by HR, or by the Director's office for the roles only it grants."""
    j.ok("POST", "/staff", HR if role in grantable_by(["hr"]) else DIRECTOR, json={
        "staff_id": staff_id, "display_name": staff_id, "job_title": job_title,
        "roles": [role], "hired_on": "2023-05-01"})
    if agreement:
        j.ok("POST", f"/staff/{staff_id}/confidentiality-agreements", HR,
             json={"version": "2023-1", "signed_on": "2023-05-01"})


def enrol(j: Journey, legal_name: str, category: str, staff_id: str | None = None) -> str:
    body = {"legal_name": legal_name, "birth_date": "1980-02-03", "category": category,
            "enrolled_on": "2024-01-15", **({"staff_id": staff_id} if staff_id else {})}
    return str(j.ok("POST", "/subjects", DIRECTOR, json=body)["pseudonym"])


def build_world(j: Journey) -> World:
    hire(j, "C-1", "clinician", "clinician")
    hire(j, "R-1", "recovery_support_specialist", "peer_staff")
    own = enrol(j, "Pellucid Varnstrom-Ike", "employee", "R-1")
    other = enrol(j, "Quillon Marsh-Ebbetts", "public_figure")
    for pseudonym, since in ((own, "2024-01-01"), (other, "2024-03-01")):
        j.ok("POST", f"/subjects/{pseudonym}/groups", DIRECTOR,
             json={"group_id": "G-1", "from": since})
    return World(own=own, other=other)


def grant(j: Journey, grantee: str, pseudonym: str, scope: str = "write",
          purpose: str = "TREAT", confirm: bool = True) -> str:
    """The privacy officer grants; the Director's office confirms (dual control)."""
    expires = (datetime.now(UTC) + timedelta(days=300)).isoformat()
    created = j.ok("POST", "/grants", PRIVACY, json={
        "grantee": grantee, "pseudonym": pseudonym, "scope": scope, "purpose": purpose,
        "expires_at": expires, "justification": "assigned treating clinician"})
    if confirm:
        j.ok("POST", f"/grants/{created['grant_id']}/confirm", DIRECTOR)
    return str(created["grant_id"])


def without_ids(body: dict[str, Any], *ids: str) -> dict[str, Any]:
    """A body with the given ids (grant ids are uuid4s) replaced by one placeholder."""
    text = json.dumps(body)
    for i in ids:
        text = text.replace(i, "<id>")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def entry(activity_type: str = "individual_session", **extra: Any) -> dict[str, Any]:
    return {"activity_type": activity_type, "service_date": "2024-06-03", "note": NOTE, **extra}


def test_a_clinician_charts_corrects_and_reads(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other)
    created = j.post(f"/charts/{w.other}/entries", CLINICIAN, json=entry(service_code="90834"))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/charts/{w.other}"
    first = created.json()["entry_id"]
    assert created.json()["position"] > 0
    correction = j.ok("POST", f"/charts/{w.other}/entries", CLINICIAN,
                      json=entry(corrects=first, note=NOTE + " (corrected)"))
    chart = j.get(f"/charts/{w.other}", CLINICIAN)
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "application/json"
    assert chart.headers["cache-control"] == "no-store"
    body = chart.json()
    assert ChartPublic.model_validate(body).model_dump(mode="json") == body  # exactly the schema
    assert (body["status"], body["opened_on"], body["closed_on"]) == ("open", "2024-01-15", None)
    assert [(e["entry_id"], e["author"], e["note"], e["corrects"]) for e in body["entries"]] == [
        (correction["entry_id"], "C-1", NOTE + " (corrected)", first)]
    assert body["access"]["rule"] == "grant" and body["access"]["break_glass"] is False
    entries = j.audited_once_each(app_system)
    write, _, read = entries[-3:]
    assert (write["action"], write["target"], write["rule"], write["purpose"]) == (
        "chart.write", w.other, "grant", "TREAT")
    assert (read["action"], read["decision"], read["rule"]) == ("chart.read", "allowed", "grant")
    assert all(NOTE not in str(e) for e in entries)


def test_a_twelve_step_entry_is_refused_and_changes_nothing(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other)
    before = len(dbutil.rows(app_system))
    for body in (entry("twelve_step_meeting"), entry(service_code="AA meeting")):
        refused = j.post(f"/charts/{w.other}/entries", CLINICIAN, json=body)
        assert refused.status_code == 422
        assert (refused.json()["error"], refused.json()["rule"]) == (
            "RuleViolation", "no_self_help_charting")
        assert NOTE not in refused.text
    rows = dbutil.rows(app_system)
    assert len(rows) == before + 2 and all(r[2].endswith("AuditRecord.Recorded") for r in rows[-2:])
    assert app_system.charts.get(w.other).entries == []
    failed = j.audited_once_each(app_system)[-1]
    assert (failed["action"], failed["decision"], failed["outcome"]) == (
        "chart.write", "failed", "422")


def test_a_job_title_that_does_not_chart_is_refused(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    hire(j, "E-1", "engagement_specialist", "peer_staff")
    grant(j, "E-1", w.other)
    refused = j.post(f"/charts/{w.other}/entries", ("E-1", "peer_staff"), json=entry())
    assert (refused.status_code, refused.json()["rule"]) == (422, "title_does_not_chart")
    # a principal with a grant but no staff record never gets past the agreement rule
    unknown = j.post(f"/charts/{w.other}/entries", ("X-9", "clinician"), json=entry())
    assert (unknown.status_code, unknown.json()["rule"]) == (403, "no_confidentiality_agreement")
    j.audited_once_each(app_system)


def test_a_group_co_members_grant_is_never_confirmed(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    gid = grant(j, "R-1", w.other, scope="read", confirm=False)
    refused = j.post(f"/grants/{gid}/confirm", DIRECTOR)
    assert (refused.status_code, refused.json()["rule"]) == (403, "group_co_member")
    read = j.get(f"/charts/{w.other}", PEER)
    assert (read.status_code, read.json()["rule"]) == (403, "grant_unconfirmed")
    confirm, denied = j.audited_once_each(app_system)[-2:]
    assert (confirm["action"], confirm["rule"], confirm["decision"]) == (
        "grant.confirm", "sequestration", "denied")
    assert "director_rule" not in confirm and director_notes(app_system) == ["group_co_member"]
    assert (denied["action"], denied["target"], denied["purpose"], denied["rule"]) == (
        "chart.read", w.other, "TREAT", "grant_unconfirmed")
    j.ok("POST", f"/grants/{gid}/decline", DIRECTOR, json={"reason": "attends G-1 with them"})
    declined = j.get(f"/charts/{w.other}", PEER).json()
    assert declined["rule"] == "grant_declined" and "G-1" not in str(declined)


def test_linked_and_unlinked_grantees_read_the_same_refusal(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    """R-1's own chart, a co-member's chart and an unrelated chart: one refusal."""
    j = Journey(client, token_for)
    w = build_world(j)
    stranger = enrol(j, "Pellucid Varnstrom-Ike", "public_figure")
    answers = []
    for pseudonym in (w.own, w.other, stranger):
        gid = grant(j, "R-1", pseudonym, scope="read", confirm=False)
        read = j.get(f"/charts/{pseudonym}", PEER)
        answers.append((read.status_code, without_ids(read.json(), gid)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1]["rule"] == "grant_unconfirmed"
    assert director_notes(app_system) == []  # a read never writes one


def test_the_director_sees_the_precise_rule(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    gid = grant(j, "R-1", w.own, scope="read", confirm=False)
    refused = j.post(f"/grants/{gid}/confirm", DIRECTOR)
    assert (refused.status_code, refused.json()["rule"]) == (403, "self_access")
    queue = j.ok("GET", "/grants/confirmations", DIRECTOR,
                 params={"after": app_system.audit.position()})["items"]
    assert [(i["grant_id"], i["queue"], i["link_rule"]) for i in queue] == [
        (gid, "pending", "self_access")]
    assert j.audited_once_each(app_system)[-2]["rule"] == "sequestration"
    assert director_notes(app_system) == ["self_access"]


def test_an_unknown_pseudonym_is_refused_like_a_missing_grant(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    for method, suffix, body in (("GET", "", None), ("POST", "/entries", entry()),
                                 ("POST", "/close", {"closed_on": "2024-07-01"})):
        denied = j.call(method, f"/charts/{w.other}{suffix}", CLINICIAN, json=body)
        unknown = j.call(method, f"/charts/{UNKNOWN}{suffix}", CLINICIAN, json=body)
        assert denied.status_code == unknown.status_code == 403
        assert denied.json() == unknown.json() and denied.json()["rule"] == "no_grant"
    # the Director's office knows which pseudonyms exist
    assert j.get(f"/charts/{UNKNOWN}", DIRECTOR).status_code == 404
    assert j.get(f"/charts/{w.other}", DIRECTOR).status_code == 403  # no agreement, no grant
    entries = j.audited_once_each(app_system)
    assert [(e["target"], e["rule"]) for e in entries[-8:-2]] == [
        (w.other, "no_grant"), (UNKNOWN, "no_grant")] * 3


def test_a_purpose_the_grant_does_not_cover_is_refused(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other, scope="read")
    other_purpose = j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "HPAYMT"})
    assert other_purpose.json()["rule"] == "no_grant"
    write = j.post(f"/charts/{w.other}/entries", CLINICIAN, json=entry())
    assert write.json()["rule"] == "no_grant"
    assert j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "NOPE"}).status_code == 422
    entries = j.audited_once_each(app_system)
    assert [e["purpose"] for e in entries[-3:-1]] == ["HPAYMT", "TREAT"]


def test_closing_and_reopening(client: TestClient, token_for: Tokens, app_system: System) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other)
    j.ok("POST", f"/charts/{w.other}/entries", CLINICIAN, json=entry())
    early = j.post(f"/charts/{w.other}/close", CLINICIAN, json={"closed_on": "2024-06-01"})
    assert early.status_code == 400  # before the last service date
    future = j.post(f"/charts/{w.other}/close", CLINICIAN, json={"closed_on": "2999-01-01"})
    assert future.status_code == 400
    j.ok("POST", f"/charts/{w.other}/close", CLINICIAN, json={"closed_on": "2024-07-01"})
    closed = j.post(f"/charts/{w.other}/entries", CLINICIAN, json=entry())
    assert (closed.status_code, closed.json()["rule"]) == (422, "chart_closed")
    reopened = j.post(f"/charts/{w.other}/reopen", DIRECTOR,
                      json={"reopened_on": "2024-09-01", "reason": "new referral"})
    assert reopened.status_code == 200 and reopened.json()["position"] > 0
    chart = j.get(f"/charts/{w.other}", CLINICIAN).json()
    assert (chart["status"], chart["closures"]) == (
        "open", [{"closed_on": "2024-07-01", "reopened_on": "2024-09-01"}])
    entries = j.audited_once_each(app_system)
    close, reopen = [e for e in entries if e["action"] in ("chart.close", "chart.reopen")
                     and e["decision"] == "allowed"]
    assert (close["rule"], close["principal"], reopen["rule"], reopen["principal"]) == (
        "grant", "C-1", "role", "D-1")


def test_closing_needs_write_access_or_the_directors_office(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other, scope="read")
    read_only = j.post(f"/charts/{w.other}/close", CLINICIAN, json={"closed_on": "2024-07-01"})
    assert (read_only.status_code, read_only.json()["rule"]) == (403, "no_grant")
    peer = j.post(f"/charts/{w.own}/close", PEER, json={"closed_on": "2024-07-01"})
    assert (peer.status_code, peer.json()["rule"]) == (403, "role")
    assert j.get(f"/charts/{w.other}", HR).json()["rule"] == "role"
    assert app_system.charts.get(w.other).status == "open"
    j.audited_once_each(app_system)


def test_bad_input_leaves_only_its_audit_record(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other)
    before = len(dbutil.rows(app_system))
    cases = [
        entry(unknown=1),
        entry(activity_type="astrology"),
        entry(service_date="2999-01-01"),
        {**entry(), "note": ""},
        entry(corrects="00000000-0000-0000-0000-000000000000"),
    ]
    statuses = [j.post(f"/charts/{w.other}/entries", CLINICIAN, json=c).status_code for c in cases]
    assert statuses == [422, 400, 400, 422, 400]
    rows = dbutil.rows(app_system)
    assert len(rows) == before + len(cases)
    assert all(r[2].endswith("AuditRecord.Recorded") for r in rows[before:])
    bad_path = j.get("/charts/not-a-pseudonym", CLINICIAN)
    assert bad_path.status_code == 422
    j.audited_once_each(app_system)


def test_a_chart_read_whose_audit_record_fails_shows_nothing(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other)
    j.ok("POST", f"/charts/{w.other}/entries", CLINICIAN, json=entry())
    assert NOTE in j.get(f"/charts/{w.other}", CLINICIAN).text
    break_the_audit_trail(app_system)
    before = dbutil.rows(app_system)
    read = j.get(f"/charts/{w.other}", CLINICIAN)
    assert read.status_code in (410, 503) and NOTE not in read.text
    assert dbutil.rows(app_system) == before


def test_metrics_count_chart_access_decisions_by_rule(client: TestClient, token_for: Tokens) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant(j, "C-1", w.other)
    j.ok("GET", f"/charts/{w.other}", CLINICIAN)
    j.ok("POST", f"/charts/{w.other}/entries", CLINICIAN, json=entry())
    assert j.get(f"/charts/{w.own}", CLINICIAN).status_code == 403
    assert j.get(f"/charts/{UNKNOWN}", CLINICIAN).status_code == 403
    text = client.get("/metrics").text
    assert 'sequester_access_decisions_total{decision="allowed",rule="grant"} 2.0' in text
    assert 'sequester_access_decisions_total{decision="denied",rule="no_grant"} 2.0' in text
