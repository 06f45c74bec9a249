"""Grants and break-glass over HTTP: the privacy officer grants and revokes; a
clinician breaks the glass, reads, and the use is reviewed off the queue; deny rules
still win; every request leaves exactly one audit record."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas.access import Purpose
from domain.access.policy import PURPOSES
from ops.bootstrap import System, build
from tests import canaries, dbutil
from tests.e2e.test_chart_journeys import (
    CLINICIAN,
    DIRECTOR,
    PEER,
    PRIVACY,
    UNKNOWN,
    Journey,
    Tokens,
    build_world,
    director_notes,
    enrol,
    grant,
    hire,
)
from tests.principals import staff_tokens

REASON = "unresponsive in lobby, Tobiah Quenneville-Ashe requested"
canaries.plant(REASON)


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def grant_body(pseudonym: str, **extra: Any) -> dict[str, Any]:
    return {"grantee": "C-1", "pseudonym": pseudonym, "scope": "read", "purpose": "TREAT",
            "expires_at": in_days(300), "justification": "treating clinician", **extra}


def test_the_schema_knows_every_purpose_of_use() -> None:
    assert set(get_args(Purpose)) == PURPOSES


def test_a_privacy_officer_grants_and_revokes(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    created = j.post("/grants", PRIVACY, json=grant_body(w.other))
    assert created.status_code == 201, created.text
    grant_id, position = created.json()["grant_id"], created.json()["position"]
    assert created.headers["Location"] == f"/grants/{grant_id}"
    pending = j.get(f"/charts/{w.other}", CLINICIAN)
    assert (pending.status_code, pending.json()["rule"]) == (403, "grant_unconfirmed")
    listed = j.ok("GET", "/grants", PRIVACY,
                  params={"grantee": "C-1", "pseudonym": w.other, "after": position})
    assert [(g["grant_id"], g["status"], g["granted_by"]) for g in listed["items"]] == [
        (grant_id, "pending", "PO-1")]
    confirmed = j.ok("POST", f"/grants/{grant_id}/confirm", DIRECTOR)
    read = j.get(f"/charts/{w.other}", CLINICIAN)
    assert (read.status_code, read.json()["access"]["grant_id"]) == (200, grant_id)
    listed = j.ok("GET", "/grants", PRIVACY, params={"grantee": "C-1",
                                                      "after": confirmed["position"]})
    assert [g["status"] for g in listed["items"]] == ["live"]
    assert listed["items"][0]["confirmed_at"] is not None
    assert "justification" not in listed["items"][0] and listed["next_offset"] is None
    revoked = j.post(f"/grants/{grant_id}/revoke", PRIVACY, json={"reason": "left the team"})
    assert revoked.status_code == 200
    refused = j.get(f"/charts/{w.other}", CLINICIAN)
    assert (refused.status_code, refused.json()["rule"]) == (403, "grant_revoked")
    one = j.ok("GET", f"/grants/{grant_id}", PRIVACY)
    assert (one["status"], one["justification"], one["revoked_by"]) == (
        "revoked", "treating clinician", "PO-1")
    after = j.ok("GET", "/grants", PRIVACY, params={"pseudonym": w.other,
                                                     "after": revoked.json()["position"]})
    assert [g["status"] for g in after["items"]] == ["revoked"]
    entries = j.audited_once_each(app_system)
    assert [(e["action"], e["target"], e["decision"], e["rule"]) for e in entries[-10:]] == [
        ("grant.create", w.other, "allowed", "role"),
        ("chart.read", w.other, "denied", "grant_unconfirmed"),
        ("grant.list", w.other, "allowed", "role"),
        ("grant.confirm", grant_id, "allowed", "role"),
        ("chart.read", w.other, "allowed", "grant"),
        ("grant.list", "C-1", "allowed", "role"),
        ("grant.revoke", grant_id, "allowed", "role"),
        ("chart.read", w.other, "denied", "grant_revoked"),
        ("grant.read", grant_id, "allowed", "role"),
        ("grant.list", w.other, "allowed", "role"),
    ]
    assert entries[-10]["purpose"] == "TREAT"
    assert all("treating clinician" not in str(e) for e in entries)


def test_only_the_privacy_officer_grants_lists_and_revokes(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant_id = grant(j, "C-1", w.other)
    for who in (CLINICIAN, ("D-1", "director"), ("AU-1", "auditor")):
        assert j.post("/grants", who, json=grant_body(w.other)).json()["rule"] == "role"
        assert j.get("/grants", who).status_code == 403
        revoke = j.post(f"/grants/{grant_id}/revoke", who, json={"reason": "ended"})
        assert revoke.status_code == 403
    assert app_system.access.get_grant(uuid.UUID(grant_id)).revoked_at is None
    j.audited_once_each(app_system)


def test_grant_refusals_name_what_was_wrong(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    hire(j, "PO-1", "privacy_officer", "privacy_officer")
    before = len(dbutil.rows(app_system))
    cases = [
        (grant_body(w.other, grantee="PO-1"), 422, "self_grant"),
        (grant_body(w.other, purpose="ETREAT"), 422, "emergency_purpose_not_grantable"),
        (grant_body(UNKNOWN), 404, None),
        (grant_body(w.other, grantee="NOBODY"), 404, None),
        (grant_body(w.other, expires_at="2001-01-01T00:00:00Z"), 400, None),
        (grant_body(w.other, expires_at="2099-01-01T00:00:00Z"), 422, None),  # over a year
        (grant_body(w.other, expires_at="2099-01-01T00:00:00"), 422, None),  # no time zone
        (grant_body(w.other, scope="admin"), 422, None),
        (grant_body(w.other, justification=""), 422, None),
    ]
    for body, code, rule in cases:
        response = j.post("/grants", PRIVACY, json=body)
        assert response.status_code == code, (body, response.text)
        assert response.json().get("rule") == rule
    rows = dbutil.rows(app_system)
    assert len(rows) == before + len(cases)
    assert all(r[2].endswith("AuditRecord.Recorded") for r in rows[before:])
    missing = j.post("/grants/00000000-0000-0000-0000-000000000001/revoke", PRIVACY,
                     json={"reason": "ended"})
    assert missing.status_code == 404
    j.audited_once_each(app_system)


def test_a_revocation_is_final(client: TestClient, token_for: Tokens, app_system: System) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    grant_id = grant(j, "C-1", w.other)
    j.ok("POST", f"/grants/{grant_id}/revoke", PRIVACY, json={"reason": "ended"})
    again = j.post(f"/grants/{grant_id}/revoke", PRIVACY, json={"reason": "ended"})
    assert (again.status_code, again.json()["rule"]) == (422, "already_revoked")
    j.audited_once_each(app_system)


def test_break_glass_is_used_read_queued_and_reviewed(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    before = j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "ETREAT"})
    assert (before.status_code, before.json()["rule"]) == (403, "no_grant")
    invoked = j.post(f"/charts/{w.other}/break-glass", CLINICIAN,
                     json={"purpose": "ETREAT", "reason": REASON})
    assert invoked.status_code == 201, invoked.text
    use_id = invoked.json()["break_glass_id"]
    assert invoked.headers["Location"] == f"/break-glass/{use_id}"
    left = datetime.fromisoformat(invoked.json()["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=239) < left <= timedelta(minutes=240)  # the default time limit
    read = j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "ETREAT"})
    assert read.status_code == 200
    assert read.json()["access"] == {"rule": "break_glass", "purpose": "ETREAT", "grant_id": None,
                                     "break_glass": True, "break_glass_id": use_id}
    # break-glass is for emergency purposes only
    assert j.get(f"/charts/{w.other}", CLINICIAN).json()["rule"] == "no_grant"
    queue = j.ok("GET", "/break-glass", PRIVACY, params={"after": invoked.json()["position"]})
    assert [(u["break_glass_id"], u["clinician"], u["pseudonym"], u["reviewed"])
            for u in queue["items"]] == [(use_id, "C-1", w.other, False)]
    assert REASON not in str(queue)
    detail = j.ok("GET", f"/break-glass/{use_id}", PRIVACY)
    assert (detail["reason"], detail["reviewed"]) == (REASON, False)
    reviewed = j.ok("POST", f"/break-glass/{use_id}/review", PRIVACY,
                    json={"outcome": "appropriate", "notes": "documented emergency"})
    empty = j.ok("GET", "/break-glass", PRIVACY, params={"after": reviewed["position"]})
    assert empty["items"] == []
    done = j.ok("GET", "/break-glass", PRIVACY, params={"status": "reviewed"})
    assert [(u["break_glass_id"], u["outcome"]) for u in done["items"]] == [(use_id, "appropriate")]
    again = j.post(f"/break-glass/{use_id}/review", PRIVACY, json={"outcome": "appropriate"})
    assert (again.status_code, again.json()["rule"]) == (422, "already_reviewed")
    entries = j.audited_once_each(app_system)
    flagged = [(e["action"], e["rule"], e["purpose"]) for e in entries
               if e["target"] == w.other and e["decision"] == "allowed"
               and e["action"].startswith(("chart", "break_glass"))]
    assert flagged == [("break_glass.invoke", "break_glass", "ETREAT"),
                       ("chart.read", "break_glass", "ETREAT")]
    assert all(REASON not in str(e) for e in entries)


def test_break_glass_never_overrides_a_deny_rule(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    hire(j, "C-2", "clinician", "clinician", agreement=False)
    hire(j, "C-3", "clinician", "clinician")  # a clinician who is a client, in group G-1
    own = enrol(j, "Pellucid Varnstrom-Ike", "employee", "C-3")
    j.ok("POST", f"/subjects/{own}/groups", DIRECTOR, json={"group_id": "G-1", "from": "2024-01-01"})
    hire(j, "E-1", "engagement_specialist", "clinician")  # a title that does not chart
    linked = ("C-3", "clinician")
    body = {"purpose": "BTG", "reason": REASON}
    to_own = j.post(f"/charts/{own}/break-glass", linked, json=body)
    co_member = j.post(f"/charts/{w.other}/break-glass", linked, json=body)
    assert to_own.status_code == co_member.status_code == 403
    assert to_own.json() == co_member.json() and to_own.json()["rule"] == "sequestration"
    unsigned = j.post(f"/charts/{w.other}/break-glass", ("C-2", "clinician"), json=body)
    assert (unsigned.status_code, unsigned.json()["rule"]) == (403, "no_confidentiality_agreement")
    unknown = j.post(f"/charts/{UNKNOWN}/break-glass", CLINICIAN, json=body)
    assert (unknown.status_code, unknown.json()["rule"]) == (403, "no_grant")
    title = j.post(f"/charts/{w.other}/break-glass", ("E-1", "clinician"), json=body)
    assert (title.status_code, title.json()["rule"]) == (403, "not_charting_title")
    for who in (PRIVACY, PEER):  # peer staff never break the glass
        by_role = j.post(f"/charts/{w.other}/break-glass", who, json=body)
        assert (by_role.status_code, by_role.json()["rule"]) == (403, "role")
    assert j.ok("GET", "/break-glass", PRIVACY, params={"status": "all"})["items"] == []
    entries = j.audited_once_each(app_system)
    assert [(e["action"], e["decision"], e["rule"]) for e in entries[-8:-3]] == [
        ("break_glass.invoke", "denied", "sequestration"),
        ("break_glass.invoke", "denied", "sequestration"),
        ("break_glass.invoke", "denied", "no_confidentiality_agreement"),
        ("break_glass.invoke", "denied", "no_grant"),
        ("break_glass.invoke", "denied", "not_charting_title"),
    ]
    assert director_notes(app_system) == ["self_access", "group_co_member"]


def test_an_inappropriate_use_ends_and_blocks_until_the_privacy_officer_lifts_it(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    body = {"purpose": "ETREAT", "reason": REASON}
    use_id = j.ok("POST", f"/charts/{w.other}/break-glass", CLINICIAN, json=body)["break_glass_id"]
    assert j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "ETREAT"}).status_code == 200
    j.ok("POST", f"/break-glass/{use_id}/review", PRIVACY,
         json={"outcome": "inappropriate", "notes": "no emergency on record"})
    ended = j.get(f"/charts/{w.other}", CLINICIAN, params={"purpose": "ETREAT"})
    assert (ended.status_code, ended.json()["rule"]) == (403, "no_grant")
    again = j.post(f"/charts/{w.other}/break-glass", CLINICIAN, json=body)
    assert (again.status_code, again.json()["rule"]) == (403, "break_glass_blocked")
    assert "privacy officer" in again.json()["detail"]
    assert j.post("/break-glass/blocks/C-1/lift", CLINICIAN,
                  json={"reason": "mine"}).status_code == 403
    j.ok("POST", "/break-glass/blocks/C-1/lift", PRIVACY, json={"reason": "retrained 2026-06"})
    assert j.post(f"/charts/{w.other}/break-glass", CLINICIAN, json=body).status_code == 201
    twice = j.post("/break-glass/blocks/C-1/lift", PRIVACY, json={"reason": "again"})
    assert (twice.status_code, twice.json()["rule"]) == (422, "not_blocked")
    j.audited_once_each(app_system)


def test_a_review_of_inappropriate_use_needs_notes(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    j = Journey(client, token_for)
    w = build_world(j)
    use_id = j.ok("POST", f"/charts/{w.other}/break-glass", CLINICIAN,
                  json={"purpose": "BTG", "reason": REASON})["break_glass_id"]
    silent = j.post(f"/break-glass/{use_id}/review", PRIVACY, json={"outcome": "inappropriate"})
    assert (silent.status_code, silent.json()["error"]) == (400, "InvalidInput")
    assert j.post(f"/break-glass/{use_id}/review", CLINICIAN,
                  json={"outcome": "appropriate"}).json()["rule"] == "role"
    j.ok("POST", f"/break-glass/{use_id}/review", PRIVACY,
         json={"outcome": "inappropriate", "notes": "no emergency on record"})
    assert j.get("/break-glass/00000000-0000-0000-0000-000000000001", PRIVACY).status_code == 404
    assert app_system.access.get_break_glass(uuid.UUID(use_id)).review_outcome == (
        "inappropriate")
    j.audited_once_each(app_system)


@pytest.fixture
def memory_app(settings_for) -> Iterator[tuple[TestClient, System]]:  # type: ignore[no-untyped-def]
    system = build(settings_for("memory://"))
    with TestClient(create_app(system.settings, system)) as client:
        yield client, system
    system.close()


def test_without_read_models_the_lists_fold_the_log(
    memory_app: tuple[TestClient, System], key_dir: Path
) -> None:
    client, system = memory_app
    j = Journey(client, staff_tokens(key_dir, system))
    w = build_world(j)
    grant_id = grant(j, "C-1", w.other)
    use_id = j.ok("POST", f"/charts/{w.own}/break-glass", CLINICIAN,
                  json={"purpose": "ETREAT", "reason": REASON})["break_glass_id"]
    listed = j.ok("GET", "/grants", PRIVACY, params={"grantee": "C-1"})["items"]
    assert [(g["grant_id"], g["pseudonym"], g["status"]) for g in listed] == [
        (grant_id, w.other, "live")]
    assert j.ok("GET", "/grants", PRIVACY, params={"grantee": "R-1"})["items"] == []
    queue = j.ok("GET", "/break-glass", PRIVACY)["items"]
    assert [(u["break_glass_id"], u["pseudonym"]) for u in queue] == [(use_id, w.own)]
    j.ok("POST", f"/break-glass/{use_id}/review", PRIVACY, json={"outcome": "appropriate"})
    assert j.ok("GET", "/break-glass", PRIVACY)["items"] == []
    assert len(j.ok("GET", "/break-glass", PRIVACY, params={"status": "all"})["items"]) == 1
