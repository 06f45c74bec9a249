"""Development token keys: an Ed25519 JWK pair made by `sequester keys init`.

Production verifies an identity provider's tokens against its JWKS (file or URL) and
never signs; `sequester token` refuses to run there.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from domain.errors import KeyUnavailable
from ops.claim_paths import with_claim

PRIVATE_FILE = "token-signing.jwk"
JWKS_FILE = "jwks.json"
KID = "sequester-dev-1"


def create_token_keys(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    private_jwk = json.loads(OKPAlgorithm.to_jwk(private))
    public_jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    for jwk in (private_jwk, public_jwk):
        jwk.update(kid=KID, alg="EdDSA", use="sig")
    _write_new(directory / PRIVATE_FILE, json.dumps(private_jwk), 0o600)
    _write_new(directory / JWKS_FILE, json.dumps({"keys": [public_jwk]}), 0o600)


def _write_new(path: Path, text: str, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyUnavailable(f"key file {path} already exists; refusing to overwrite") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)


def sign_development_token(
    directory: Path, *, sub: str, roles: list[str], issuer: str, audience: str, ttl: int,
    roles_path: tuple[str, ...] = ("roles",), staff_id_path: tuple[str, ...] = ("sub",),
) -> str:
    """A development token; the roles and the staff id at the claims the settings name
    (`SEQUESTER_JWT_ROLES_CLAIM`, `SEQUESTER_JWT_STAFF_ID_CLAIM`)."""
    path = directory / PRIVATE_FILE
    try:
        key = OKPAlgorithm.from_jwk(path.read_text())
    except FileNotFoundError:
        raise KeyUnavailable(f"missing token signing key {path}: run `sequester keys init`") from None
    except (OSError, ValueError):
        raise KeyUnavailable(f"token signing key {path} is unreadable or corrupt") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnavailable(f"token signing key {path} is not an Ed25519 private key")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iss": issuer, "aud": audience, "iat": now,
                              "exp": now + ttl}
    with_claim(claims, staff_id_path, sub)
    with_claim(claims, roles_path, roles)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KID})
