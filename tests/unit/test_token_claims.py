"""What a verified token says: claim paths, JSON Pointers, role maps, staff ids, and
every claim of the wrong type refused as a 401 naming the claim (never a 500)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from api.auth import AuthenticationFailed, ClaimRules, TokenVerifier
from ops.claim_paths import ABSENT, parse_claim_path
from tests.logs import logged

ISS, AUD, KID = "https://idp.test/realms/staff", "sequester", "k1"


@pytest.fixture
def signer(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    key = Ed25519PrivateKey.generate()
    public = json.loads(OKPAlgorithm.to_jwk(key.public_key())) | {"kid": KID, "alg": "EdDSA"}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public]}))
    return key, path


def signed(key: Ed25519PrivateKey, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token with any claims (and header) at all, as a careless provider might sign."""
    now = int(time.time())
    base: dict[str, Any] = {"sub": "C-1", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 60}
    head = b64(header or {"alg": "EdDSA", "kid": KID, "typ": "JWT"})
    body = b64({k: v for k, v in {**base, **claims}.items() if v is not ABSENT})
    signature = key.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def verifier(path: Path, **rules: Any) -> TokenVerifier:
    return TokenVerifier(issuer=ISS, audience=AUD, jwks_file=path, rules=ClaimRules(**rules))


def test_keycloak_realm_roles_by_dotted_path(signer: tuple[Ed25519PrivateKey, Path]) -> None:
    key, path = signer
    token = signed(key, realm_access={"roles": ["director", "offline_access"]})
    claimed = verifier(path, roles_claim="realm_access.roles").verify(token)
    assert claimed.roles == frozenset({"director"})


def test_json_pointer_names_claims_with_dots_and_slashes(
    signer: tuple[Ed25519PrivateKey, Path]
) -> None:
    key, path = signer
    token = signed(key, **{"https://agency.example/roles": ["hr"],
                           "resource_access": {"sequester.api": {"roles": ["auditor"]}}})
    auth0 = verifier(path, roles_claim="/https:~1~1agency.example~1roles")
    keycloak_client = verifier(path, roles_claim="/resource_access/sequester.api/roles")
    assert auth0.verify(token).roles == frozenset({"hr"})
    assert keycloak_client.verify(token).roles == frozenset({"auditor"})


def test_a_role_map_renames_and_other_names_grant_nothing_logged_once(
    signer: tuple[Ed25519PrivateKey, Path], caplog: pytest.LogCaptureFixture
) -> None:
    key, path = signer
    v = verifier(path, roles_claim="groups", role_map={"Sequester.Director": "director"})
    with logged(caplog) as logs:
        for sub in ("C-1", "C-2"):
            token = signed(key, sub=sub, groups=["Sequester.Director", "director", "Everyone"])
            assert v.verify(token).roles == frozenset({"director"})  # 'director' is unmapped
    ignored = [e["name"] for e in logs if e["event"] == "auth.role_name_ignored"]
    assert ignored == ["director", "Everyone"]


def test_staff_ids_from_another_claim_and_emails_in_lower_case(
    signer: tuple[Ed25519PrivateKey, Path]
) -> None:
    key, path = signer
    entra = verifier(path, staff_id_claim="oid")
    oid = "3f2b8c1e-0d4a-4c6b-9a7e-5b1d2c3e4f50"
    assert entra.verify(signed(key, sub="pairwise-XyZ", oid=oid)).staff_id == oid
    okta = verifier(path)
    assert okta.verify(signed(key, sub="Alice.Ng@Agency.Example")).staff_id == (
        "alice.ng@agency.example")
    assert okta.verify(signed(key, sub="auth0|5f3c9a")).staff_id == "auth0|5f3c9a"


@pytest.mark.parametrize(("claims", "rules", "message"), [
    ({"roles": [["director"]]}, {}, "token claim 'roles' must be a list of strings"),
    ({"roles": {"director": True}}, {}, "token claim 'roles' must be a list of strings"),
    ({"roles": "director"}, {}, "token claim 'roles' must be a list of strings"),
    ({"realm_access": ["director"]}, {"roles_claim": "realm_access.roles"},
     "token claim 'realm_access' is not an object"),
    ({"sub": 12345}, {}, "token claim 'sub' must be a string"),
    ({"sub": ["C-1"]}, {}, "token claim 'sub' must be a string"),
    ({"sub": "has space"}, {}, "token claim 'sub' is not a staff id"),
    ({"sub": "../../etc"}, {}, "token claim 'sub' is not a staff id"),
    ({"oid": None}, {"staff_id_claim": "oid"}, "token claim 'oid' must be a string"),
    ({}, {"staff_id_claim": "oid"}, "token lacks the 'oid' claim"),
    ({"exp": "tomorrow"}, {}, "token claim 'exp' must be a number"),
    ({"exp": True}, {}, "token claim 'exp' must be a number"),
    ({"iat": ABSENT}, {}, "token lacks the 'iat' claim"),
    ({"aud": ABSENT}, {}, "token lacks the 'aud' claim"),
    ({"nbf": [1]}, {}, "token claim 'nbf' must be a number"),
    ({"aud": [["sequester"]]}, {}, "token claim 'aud' must be a string or a list of strings"),
    ({"aud": {"sequester": 1}}, {}, "token claim 'aud' must be a string or a list of strings"),
    ({"iss": ["x"]}, {}, "token issuer is not accepted"),
])
def test_a_claim_of_the_wrong_type_is_a_401_naming_it(
    signer: tuple[Ed25519PrivateKey, Path], claims: dict[str, Any], rules: dict[str, Any],
    message: str,
) -> None:
    key, path = signer
    with pytest.raises(AuthenticationFailed, match=message) as refused:
        verifier(path, **rules).verify(signed(key, **claims))
    assert refused.value.category in ("claims", "issuer")


def test_no_roles_claim_claims_no_role(signer: tuple[Ed25519PrivateKey, Path]) -> None:
    key, path = signer
    assert verifier(path, roles_claim="groups").verify(signed(key)).roles == frozenset()
    assert verifier(path).verify(signed(key, roles=None)).roles == frozenset()


@pytest.mark.parametrize(("claims", "category"), [
    ({"exp": int(time.time()) - 600}, "expired"),
    ({"iat": int(time.time()) + 600}, "not_yet_valid"),
    ({"nbf": int(time.time()) + 600}, "not_yet_valid"),
    ({"aud": "someone-else"}, "audience"),
    ({"aud": ["a", "b"]}, "audience"),
    ({"iss": "https://evil.test"}, "issuer"),
])
def test_each_refusal_has_its_category(
    signer: tuple[Ed25519PrivateKey, Path], claims: dict[str, Any], category: str
) -> None:
    key, path = signer
    with pytest.raises(AuthenticationFailed) as refused:
        verifier(path).verify(signed(key, **claims))
    assert refused.value.category == category


def test_an_audience_list_holding_ours_is_accepted(signer: tuple[Ed25519PrivateKey, Path]) -> None:
    key, path = signer
    assert verifier(path).verify(signed(key, aud=["account", AUD])).staff_id == "C-1"


@pytest.mark.parametrize(("make", "message"), [
    (lambda key: jwt.api_jws.encode(b"[1, 2]", key, algorithm="EdDSA", headers={"kid": KID}),
     "payload is not a JSON object"),
    (lambda key: signed(key, header={"alg": "EdDSA", "kid": 7}), "malformed token"),  # kid
    (lambda key: "x" * 20000, "too long"),
])
def test_malformed_tokens(signer: tuple[Ed25519PrivateKey, Path], make: Any, message: str) -> None:
    key, path = signer
    with pytest.raises(AuthenticationFailed, match=message) as refused:
        verifier(path).verify(make(key))
    assert refused.value.category == "malformed"


def test_a_remembered_token_is_verified_again_after_the_interval(
    signer: tuple[Ed25519PrivateKey, Path]
) -> None:
    key, path = signer
    v = TokenVerifier(issuer=ISS, audience=AUD, jwks_file=path, refresh_seconds=5)
    token = signed(key)
    v.verify(token)
    assert v._verified[token][2] == pytest.approx(time.time() + 5, abs=1)
    v.clock = lambda: time.time() + 6  # past the interval: no longer taken from memory
    path.write_text(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "other",
                                          "x": json.loads(path.read_text())["keys"][0]["x"]}]}))
    v.keys = type(v.keys)(path)  # the key set now lacks k1
    with pytest.raises(AuthenticationFailed, match="unknown key"):
        v.verify(token)


@pytest.mark.parametrize("text", ["", ".", "a..b", "/", "/a//b", "/a~2b"])
def test_malformed_claim_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_claim_path(text)


def test_claim_paths() -> None:
    assert parse_claim_path("realm_access.roles") == ("realm_access", "roles")
    assert parse_claim_path("/a~1b/c~0d") == ("a/b", "c~d")
    assert parse_claim_path("groups") == ("groups",)
