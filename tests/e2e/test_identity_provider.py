"""Against a real OpenID Connect provider (npm `oidc-provider`, `tests/oidc`): staff
sign in with the authorization-code flow and PKCE, and sequester verifies the RS256
access tokens it issues, shaped as Keycloak's, Okta's and Entra ID's are (the README's
recipes configure exactly these settings). The staff record decides who holds a role.
Keys rotate and are removed without restarting sequester; a provider that hangs or is
down makes sequester answer 503, log why, and report it at /readyz."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from fastapi.testclient import TestClient

from api.app import create_app
from ops.bootstrap import System, build
from tests import dbutil
from tests.e2e.test_chart_journeys import audit_entries
from tests.logs import logged
from tests.oidc.harness import OidcProvider

KEYCLOAK = {"jwt_roles_claim": "realm_access.roles"}
OKTA = {"jwt_roles_claim": "groups",
        "jwt_role_map": {"Sequester HR": "hr", "Sequester Clinicians": "clinician"}}
ENTRA_CLIENT_ID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"  # v2 tokens: aud is the client id
ENTRA = {"jwt_audience": ENTRA_CLIENT_ID, "jwt_staff_id_claim": "oid",
         "jwt_role_map": {"Sequester.Director": "director",
                          "Sequester.PrivacyOfficer": "privacy_officer"}}
UNKNOWN = "SQ-ZZZZ-ZZZZ"


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    provider = OidcProvider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def entra_idp() -> Iterator[OidcProvider]:
    provider = OidcProvider.start(audience=ENTRA_CLIENT_ID)
    yield provider
    provider.stop()


@pytest.fixture
def own_idp() -> Iterator[OidcProvider]:
    """A provider of the test's own, whose keys it may rotate and remove."""
    provider = OidcProvider.start()
    yield provider
    provider.stop()


@dataclass
class Agency:
    """sequester (in process) trusting one identity provider."""

    client: TestClient
    system: System
    idp: OidcProvider

    def hire(self, staff_id: str, title: str, *roles: str) -> None:
        self.system.staff.hire(staff_id, staff_id, title, list(roles), date(2021, 3, 1))

    def sign_in(self, account_id: str, claims: dict[str, Any]) -> dict[str, str]:
        """Bearer headers with an access token of the provider's for this account."""
        self.idp.add_account(account_id, claims)
        return {"Authorization": f"Bearer {self.idp.access_token(account_id)}"}


Agencies = Callable[..., Agency]


@pytest.fixture
def agency(backend: str, settings_for) -> Iterator[Agencies]:  # type: ignore[no-untyped-def]
    opened: list[tuple[TestClient, System]] = []

    def make(idp: OidcProvider, jwks_url: str | None = None, **settings: Any) -> Agency:
        s = settings_for(backend, jwt_issuer=idp.issuer, jwks_url=jwks_url or idp.jwks_url,
                         jwt_algorithms=["RS256"], **settings)
        system = build(s)
        client = TestClient(create_app(s, system))
        client.__enter__()
        opened.append((client, system))
        return Agency(client, system, idp)

    yield make
    for client, system in opened:
        client.__exit__(None, None, None)
        system.close()


def last_audit(system: System) -> dict[str, Any]:
    return audit_entries(system)[-1]


@pytest.mark.parametrize(("roles_claim", "claims"), [
    ("realm_access.roles", {"realm_access": {"roles": [
        "director", "offline_access", "uma_authorization", "default-roles-agency"]}}),
    ("/resource_access/sequester.api/roles",  # client roles; the client id holds a dot
     {"resource_access": {"sequester.api": {"roles": ["director"]}, "account": {
         "roles": ["manage-account"]}}}),
])
def test_keycloak_shaped_tokens(idp: OidcProvider, agency: Agencies, roles_claim: str,
                                claims: dict[str, Any]) -> None:
    a = agency(idp, jwt_roles_claim=roles_claim)
    sub = "f47ac10b-58cc-4372-a567-0e02b2c3d479"  # Keycloak's sub: the user's UUID
    a.hire(sub, "director", "director")
    director = a.sign_in(sub, {**claims, "preferred_username": "mhale", "azp": "sequester"})
    created = a.client.post("/subjects", headers=director, json={
        "legal_name": "Orrin Valdespino-Hatch", "birth_date": "1979-04-02",
        "category": "public_figure"})
    assert created.status_code == 201, created.text
    listed = a.client.get("/subjects", headers=director)
    assert listed.status_code == 200
    assert (last_audit(a.system)["principal"], last_audit(a.system)["roles"]) == (
        sub, ["director"])


def test_okta_shaped_tokens_with_email_staff_ids(idp: OidcProvider, agency: Agencies) -> None:
    a = agency(idp, **OKTA)
    a.hire("casey.nguyen@agency.example", "hr_specialist", "hr")
    hr = a.sign_in("Casey.Nguyen@Agency.Example", {"groups": ["Everyone", "Sequester HR"]})
    hired = a.client.post("/staff", headers=hr, json={
        "staff_id": "Avery.Collins+clinic@Agency.Example", "display_name": "Avery Collins",
        "job_title": "clinician", "roles": ["clinician"], "hired_on": "2024-02-05"})
    assert hired.status_code == 201, hired.text
    assert hired.json()["staff_id"] == "avery.collins+clinic@agency.example"
    assert hired.headers["Location"] == "/staff/avery.collins%2Bclinic@agency.example"
    for path in (hired.headers["Location"], "/staff/Avery.Collins%2Bclinic%40AGENCY.example"):
        record = a.client.get(path, headers=hr)
        assert record.status_code == 200, record.text
        assert record.json()["staff_id"] == "avery.collins+clinic@agency.example"
    clinician = a.sign_in("AVERY.COLLINS+clinic@agency.example",
                          {"groups": ["Sequester Clinicians"]})
    own = a.client.get("/staff/avery.collins%2Bclinic@agency.example", headers=clinician)
    assert own.status_code == 200 and own.json()["roles"] == ["clinician"]
    assert last_audit(a.system)["principal"] == "avery.collins+clinic@agency.example"


def test_okta_shaped_tokens_with_the_immutable_uid(idp: OidcProvider, agency: Agencies) -> None:
    a = agency(idp, **OKTA, jwt_staff_id_claim="uid")
    a.hire("00u1ab2CD3ef4GH5i6j7", "hr_specialist", "hr")
    hr = a.sign_in("jo.smith@agency.example", {"uid": "00u1ab2CD3ef4GH5i6j7",
                                                "groups": ["Sequester HR"]})
    assert a.client.get("/staff/00u1ab2CD3ef4GH5i6j7", headers=hr).status_code == 200
    assert last_audit(a.system)["principal"] == "00u1ab2CD3ef4GH5i6j7"


def test_entra_shaped_tokens_with_mapped_app_roles_and_oid(
    entra_idp: OidcProvider, agency: Agencies
) -> None:
    a = agency(entra_idp, **ENTRA)
    oid = "3f2b8c1e-0d4a-4c6b-9a7e-5b1d2c3e4f50"
    a.hire(oid, "director", "director")
    director = a.sign_in("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", {  # pairwise sub
        "oid": oid, "tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "ver": "2.0",
        "roles": ["Sequester.Director"], "name": "Morgan Hale"})
    assert a.client.get("/subjects", headers=director).status_code == 200
    assert (last_audit(a.system)["principal"], last_audit(a.system)["roles"]) == (
        oid, ["director"])


def test_a_separated_staff_member_is_refused_on_the_next_request(
    idp: OidcProvider, agency: Agencies
) -> None:
    a = agency(idp, **OKTA)
    a.hire("hr.one@agency.example", "hr_specialist", "hr")
    a.hire("c.one@agency.example", "clinician", "clinician")
    hr = a.sign_in("hr.one@agency.example", {"groups": ["Sequester HR"]})
    clinician = a.sign_in("c.one@agency.example", {"groups": ["Sequester Clinicians"]})
    assert a.client.get("/staff/c.one@agency.example", headers=clinician).status_code == 200
    before = a.client.get(f"/charts/{UNKNOWN}", headers=clinician)
    assert (before.status_code, before.json()["rule"]) == (403, "no_grant")
    today = datetime.now(UTC).date().isoformat()
    separated = a.client.post("/staff/c.one@agency.example/separation", headers=hr,
                              json={"separated_on": today, "reason": "resigned"})
    assert separated.status_code == 200, separated.text
    for path in ("/staff/c.one@agency.example", f"/charts/{UNKNOWN}"):  # the same token
        refused = a.client.get(path, headers=clinician)
        assert (refused.status_code, refused.json()["rule"]) == (403, "separated"), path
        entry = last_audit(a.system)
        assert (entry["principal"], entry["decision"], entry["rule"], entry["roles"]) == (
            "c.one@agency.example", "denied", "separated", [])


def test_a_never_hired_sub_is_refused_whatever_its_token_claims(
    idp: OidcProvider, agency: Agencies
) -> None:
    a = agency(idp, **KEYCLOAK)
    impostor = a.sign_in("never-hired", {"realm_access": {"roles": ["director"]}})
    before = len(dbutil.rows(a.system))
    for method, path, body in (("GET", "/subjects", None), ("GET", f"/charts/{UNKNOWN}", None),
                               ("POST", "/subjects", {"legal_name": "Nobody Here",
                                                      "birth_date": "1980-01-01",
                                                      "category": "employee"})):
        refused = a.client.request(method, path, headers=impostor, json=body)
        assert (refused.status_code, refused.json()["rule"]) == (403, "not_staff"), path
        assert (last_audit(a.system)["decision"], last_audit(a.system)["rule"]) == (
            "denied", "not_staff")
    rows = dbutil.rows(a.system)[before:]
    assert len(rows) == 3 and all(r[2].endswith("AuditRecord.Recorded") for r in rows)


def test_a_token_role_the_staff_record_lacks_is_ignored(
    idp: OidcProvider, agency: Agencies
) -> None:
    a = agency(idp, **KEYCLOAK)
    a.hire("C-7", "clinician", "clinician")
    token = a.sign_in("C-7", {"realm_access": {"roles": ["clinician", "director"]}})
    refused = a.client.get("/subjects", headers=token)
    assert (refused.status_code, refused.json()["rule"]) == (403, "role")
    assert last_audit(a.system)["roles"] == ["clinician"]
    own = a.client.get("/staff/C-7", headers=token)
    assert own.status_code == 200 and last_audit(a.system)["roles"] == ["clinician"]
    a.system.staff.assign_roles("C-7", ["clinician", "director"])  # now the record holds it
    assert a.client.get("/subjects", headers=token).status_code == 200


def test_a_roles_claim_of_the_wrong_type_is_a_401_and_writes_only_its_audit_record(
    idp: OidcProvider, agency: Agencies
) -> None:
    a = agency(idp)
    a.hire("D-9", "director", "director")
    token = a.sign_in("D-9", {"roles": [["director"]]})
    before = len(dbutil.rows(a.system))
    refused = a.client.post("/subjects", headers=token, json={
        "legal_name": "Nobody Here", "birth_date": "1980-01-01", "category": "employee"})
    assert refused.status_code == 401
    assert refused.json() == {"error": "Unauthorized",
                              "detail": "token claim 'roles' must be a list of strings"}
    rows = dbutil.rows(a.system)[before:]
    assert len(rows) == 1 and rows[0][2].endswith("AuditRecord.Recorded")
    entry = last_audit(a.system)
    assert (entry["principal"], entry["decision"], entry["rule"]) == (
        "anonymous", "denied", "token_claims")


def test_each_401_is_logged_and_audited_with_its_category_never_the_token(
    idp: OidcProvider, entra_idp: OidcProvider, agency: Agencies,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = agency(idp, **OKTA)
    other = Agency(a.client, a.system, entra_idp)  # another provider, another audience
    token = other.sign_in("someone@agency.example", {"groups": ["Sequester HR"]})
    with logged(caplog) as logs:
        refused = a.client.get("/staff/someone@agency.example", headers=token)
    assert refused.status_code == 401
    # signed by a key this agency does not trust (another provider), so: unknown key
    assert last_audit(a.system)["rule"] == "token_unknown_key"
    refusal = next(e for e in logs if e["event"] == "auth.refused")
    assert refusal["category"] == "unknown_key"
    assert not any(token["Authorization"][7:] in str(e) for e in logs)


def test_a_new_key_is_accepted_without_restart(own_idp: OidcProvider, agency: Agencies) -> None:
    a = agency(own_idp, jwks_refresh_seconds=1)
    a.hire("D-1", "director", "director")
    claims = {"roles": ["director"]}
    assert a.client.get("/subjects", headers=a.sign_in("D-1", claims)).status_code == 200
    new_kid = own_idp.rotate_key()
    token = a.sign_in("D-1", claims)
    assert jwt.get_unverified_header(token["Authorization"][7:])["kid"] == new_kid
    assert a.client.get("/subjects", headers=token).status_code == 200


def test_a_removed_key_is_refused_within_the_refresh_interval(
    own_idp: OidcProvider, agency: Agencies
) -> None:
    a = agency(own_idp, jwks_refresh_seconds=1)
    a.hire("D-1", "director", "director")
    old_kid = own_idp.signing_kid
    old = a.sign_in("D-1", {"roles": ["director"]})
    assert a.client.get("/subjects", headers=old).status_code == 200
    own_idp.rotate_key()
    own_idp.remove_key(old_kid)
    removed_at = time.monotonic()
    time.sleep(1.2)  # one interval: no key set fetched before the removal is trusted now
    refused = a.client.get("/subjects", headers=old)
    assert (refused.status_code, refused.json()["detail"]) == (
        401, "token signed by an unknown key")
    assert last_audit(a.system)["rule"] == "token_unknown_key"
    assert time.monotonic() - removed_at >= 1.0
    assert a.client.get("/subjects", headers=a.sign_in("D-1", {"roles": ["director"]})
                        ).status_code == 200


def an_rs256_token() -> dict[str, str]:
    """A well-formed token whose key no one publishes (it never gets that far)."""
    now = int(time.time())
    token = jwt.encode({"sub": "D-1", "iss": "x", "aud": "sequester", "iat": now,
                        "exp": now + 60}, generate_private_key(65537, 2048), algorithm="RS256",
                       headers={"kid": "k1"})
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def hanging_socket() -> Iterator[str]:
    """A JWKS URL whose server accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/jwks"
    stop.set()
    thread.join()
    for s in (*accepted, server):
        s.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/jwks"


@pytest.mark.parametrize("where", ["hangs", "is down"])
def test_a_provider_that_hangs_or_is_down_gives_503_logs_why_and_readyz_says_so(
    idp: OidcProvider, agency: Agencies, hanging_socket: str, where: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, reason = (hanging_socket, "timed out") if where == "hangs" else (
        closed_port_url(), "connection refused")
    a = agency(idp, jwks_url=url, jwks_timeout_seconds=0.5)
    with logged(caplog) as logs:
        for _ in range(2):  # the second is answered at once: no fetch for a few seconds
            response = a.client.get("/subjects", headers=an_rs256_token())
            assert response.status_code == 503
            assert response.json()["error"] == "IdentityProviderUnavailable"
            assert reason in response.json()["detail"]
            assert last_audit(a.system)["rule"] == "identity_provider"
        ready = a.client.get("/readyz")
    assert ready.status_code == 503 and reason in ready.json()["identity_provider"]
    failures = [e for e in logs if e["event"] == "auth.keys_unavailable"]
    assert [e["cause"] for e in failures] == [reason]


def test_a_browser_console_can_sign_in_with_the_code_flow_and_pkce(
    idp: OidcProvider, agency: Agencies
) -> None:
    """What a web console registered with the provider gets (a later issue's sign-in)."""
    a = agency(idp)
    a.hire("D-3", "director", "director")
    idp.add_account("D-3", {"roles": ["director"]})
    idp.add_client("sequester-console", "http://127.0.0.1:8000/console/callback")
    tokens = idp.sign_in("D-3", "sequester-console", "http://127.0.0.1:8000/console/callback")
    assert {"access_token", "id_token", "token_type"} <= set(tokens)
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["aud"] == (
        "sequester-console")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert a.client.get("/subjects", headers=headers).status_code == 200
    refused = a.client.get("/subjects", headers={"Authorization": f"Bearer {tokens['id_token']}"})
    assert refused.status_code == 401  # an ID token is for the console, not for the API


def test_readyz_is_ready_once_the_provider_answers(idp: OidcProvider, agency: Agencies) -> None:
    a = agency(idp)
    ready = a.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
