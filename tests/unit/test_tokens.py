"""Bearer token verification: each attack is refused."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auth import AuthenticationFailed, TokenVerifier
from ops.keys.tokens import sign_development_token

ISS, AUD = "sequester-test", "sequester"


@pytest.fixture
def verifier(key_dir: Path) -> TokenVerifier:
    return TokenVerifier(issuer=ISS, audience=AUD, jwks_file=key_dir / "jwks.json")


def token(key_dir: Path, **kw: object) -> str:
    args: dict[str, object] = {
        "sub": "C-1", "roles": ["clinician"], "issuer": ISS, "audience": AUD, "ttl": 60,
    }
    args.update(kw)
    return sign_development_token(key_dir, **args)  # type: ignore[arg-type]


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_good_token_gives_the_principal_and_drops_unknown_roles(
    verifier: TokenVerifier, key_dir: Path
) -> None:
    principal = verifier.verify(token(key_dir, roles=["clinician", "root"]))
    assert (principal.staff_id, principal.roles) == ("C-1", frozenset({"clinician"}))


def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    now = int(time.time())
    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'D-1', 'roles': ['director'], 'iss': ISS, 'aud': AUD, 'iat': now, 'exp': now + 60})}."
    with pytest.raises(AuthenticationFailed, match="algorithm 'none' is not accepted"):
        verifier.verify(forged)


def test_a_token_from_another_key_is_refused(verifier: TokenVerifier) -> None:
    now = int(time.time())
    claims = {"sub": "D-1", "roles": ["director"], "iss": ISS, "aud": AUD, "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                        headers={"kid": "sequester-dev-1"})
    with pytest.raises(AuthenticationFailed, match="signature or claims are invalid"):
        verifier.verify(forged)


def test_hs256_signed_with_the_public_key_is_refused(verifier: TokenVerifier, key_dir: Path) -> None:
    public = json.loads((key_dir / "jwks.json").read_text())["keys"][0]["x"]
    now = int(time.time())
    claims = {"sub": "D-1", "roles": ["director"], "iss": ISS, "aud": AUD, "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, public.encode(), algorithm="HS256", headers={"kid": "sequester-dev-1"})
    with pytest.raises(AuthenticationFailed, match="'HS256' is not accepted"):
        verifier.verify(forged)


def test_expired_wrong_audience_and_wrong_issuer(verifier: TokenVerifier, key_dir: Path) -> None:
    with pytest.raises(AuthenticationFailed, match="expired"):
        verifier.verify(token(key_dir, ttl=-120))
    with pytest.raises(AuthenticationFailed, match="audience"):
        verifier.verify(token(key_dir, audience="someone-else"))
    with pytest.raises(AuthenticationFailed, match="issuer"):
        verifier.verify(token(key_dir, issuer="evil"))


def test_clock_skew_within_the_leeway_is_tolerated(verifier: TokenVerifier, key_dir: Path) -> None:
    assert verifier.verify(token(key_dir, ttl=-10)).staff_id == "C-1"


def test_a_tampered_payload_is_refused(verifier: TokenVerifier, key_dir: Path) -> None:
    header, _, signature = token(key_dir).split(".")
    now = int(time.time())
    payload = b64({"sub": "C-1", "roles": ["director"], "iss": ISS, "aud": AUD, "iat": now, "exp": now + 60})
    with pytest.raises(AuthenticationFailed, match="signature or claims are invalid"):
        verifier.verify(f"{header}.{payload}.{signature}")


def test_garbage_is_malformed(verifier: TokenVerifier) -> None:
    with pytest.raises(AuthenticationFailed, match="malformed"):
        verifier.verify("not-a-token")


def test_symmetric_algorithms_cannot_be_configured(key_dir: Path) -> None:
    with pytest.raises(ValueError, match="refusing token algorithms"):
        TokenVerifier(issuer=ISS, audience=AUD, jwks_file=key_dir / "jwks.json", algorithms=("HS256",))


def test_a_remembered_token_is_refused_once_it_expires(
    verifier: TokenVerifier, key_dir: Path
) -> None:
    good = token(key_dir, ttl=60)
    assert verifier.verify(good).staff_id == "C-1"
    assert verifier.verify(good).staff_id == "C-1"  # from the cache
    verifier.clock = lambda: time.time() + 60 + verifier.leeway + 1
    with pytest.raises(AuthenticationFailed, match="expired"):
        verifier.verify(good)


def test_the_cache_of_verified_tokens_is_bounded(verifier: TokenVerifier, key_dir: Path) -> None:
    verifier.cache_size = 3
    tokens = [token(key_dir, sub=f"C-{n}") for n in range(5)]
    assert [verifier.verify(t).staff_id for t in tokens] == [f"C-{n}" for n in range(5)]
    assert len(verifier._verified) == 3
