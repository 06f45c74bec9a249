"""Over HTTP: token attacks get 401; without an audit record there is no response
data and no write; internal errors never show a stack trace."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from jwt.algorithms import OKPAlgorithm

from api.app import create_app
from domain.audit.trail import AUDIT_SUBJECT
from ops.bootstrap import System
from ops.keys.tokens import sign_development_token
from tests import dbutil
from tests.e2e.test_director_journey import audit_entries

Tokens = Callable[..., dict[str, str]]


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**kw: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {"sub": "D-1", "roles": ["director"], "iss": "sequester-dev",
                               "aud": "sequester", "iat": now, "exp": now + 60}
    base.update(kw)
    return base


def attacks(key_dir: Path) -> dict[str, str]:
    good = sign_development_token(key_dir, sub="C-1", roles=["clinician"], issuer="sequester-dev",
                                  audience="sequester", ttl=60)
    header, _, signature = good.split(".")
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}.",
        "wrong key": jwt.encode(claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                headers={"kid": "sequester-dev-1"}),
        "expired": sign_development_token(key_dir, sub="D-1", roles=["director"],
                                          issuer="sequester-dev", audience="sequester", ttl=-600),
        "wrong audience": sign_development_token(key_dir, sub="D-1", roles=["director"],
                                                 issuer="sequester-dev", audience="other", ttl=60),
        "tampered payload": f"{header}.{b64(claims())}.{signature}",
        "garbage": "not.a.token",
    }


def test_each_token_attack_gets_401(client: TestClient, key_dir: Path) -> None:
    for name, token in attacks(key_dir).items():
        response = client.get("/subjects", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"'), name
        assert response.json()["error"] == "Unauthorized", name


def break_the_audit_trail(system: System) -> None:
    system.keyring.store.shred(AUDIT_SUBJECT, "fault injection", datetime.now(UTC))
    system.keyring._by_scope.discard_where(lambda s: True)
    system.keyring._warmed_at = None


def test_without_an_audit_record_there_is_no_data_and_no_write(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    director, hr = token_for("D-1", "director"), token_for("HR-1", "hr")
    assert client.get("/subjects", headers=director).status_code == 200
    break_the_audit_trail(app_system)
    before = dbutil.rows(app_system)
    read = client.get("/subjects", headers=director)
    assert read.status_code in (410, 503) and "items" not in read.text
    write = client.post("/staff", headers=hr, json={
        "staff_id": "S-9", "display_name": "S", "job_title": "clinician", "roles": ["clinician"],
        "hired_on": "2024-01-01"})
    assert write.status_code in (410, 503)
    assert dbutil.rows(app_system) == before
    assert not app_system.staff.exists("S-9")


def test_internal_errors_show_no_stack_trace(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    hr = token_for("HR-1", "hr")
    client.post("/staff", headers=hr, json={
        "staff_id": "S-1", "display_name": "S", "job_title": "clinician", "roles": ["clinician"],
        "hired_on": "2024-01-01"})
    row = next(r for r in dbutil.rows(app_system) if r[2].endswith("StaffMember.Hired"))
    dbutil.set_state(app_system, row[4], bytes(row[3])[:-1] + bytes([row[3][-1] ^ 1]))  # always a change
    response = client.get("/staff/S-1", headers=hr)
    assert response.status_code == 500
    assert response.json()["error"] == "TamperDetected"
    assert "Traceback" not in response.text and ".py" not in response.text


def test_an_unexpected_error_is_audited_and_shows_nothing(app_system: System) -> None:
    app = create_app(app_system.settings, app_system)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug with /etc/secret in its message")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    (entry,) = audit_entries(app_system)
    assert (entry["request_id"], entry["outcome"], entry["decision"]) == ("req-500", "500", "failed")


def test_a_claim_of_the_wrong_type_is_a_401_and_writes_only_its_audit_record(
    client: TestClient, key_dir: Path, app_system: System, token_for: Tokens
) -> None:
    """`roles: [["director"]]` from a hired director: 401 naming the claim, never a 500,
    and nothing stored but the request's own audit record."""
    token_for("D-1", "director")
    key = OKPAlgorithm.from_jwk((key_dir / "token-signing.jwk").read_text())
    forged_shape = jwt.encode(claims(roles=[["director"]]), key, algorithm="EdDSA",
                              headers={"kid": "sequester-dev-1"})
    before = len(dbutil.rows(app_system))
    response = client.post("/subjects", headers={"Authorization": f"Bearer {forged_shape}"},
                           json={"legal_name": "Nobody Here", "birth_date": "1980-01-01",
                                 "category": "employee"})
    assert response.status_code == 401
    assert response.json()["detail"] == "token claim 'roles' must be a list of strings"
    rows = dbutil.rows(app_system)[before:]
    assert len(rows) == 1 and rows[0][2].endswith("AuditRecord.Recorded")
    (entry,) = audit_entries(app_system)
    assert (entry["decision"], entry["rule"], entry["outcome"]) == ("denied", "token_claims", "401")
