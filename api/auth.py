"""Bearer tokens: signature checked against configured public keys (a JWKS file or
URL), algorithms pinned to asymmetric ones, issuer, audience and expiry required,
clock skew bounded. Any failure is a 401 naming what was wrong, never the token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from domain.staff.aggregate import ROLES

#: Asymmetric only: an HS256 token can never be verified with a public key as secret.
ALLOWED_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")


class AuthenticationFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    staff_id: str
    roles: frozenset[str]


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        algorithms: tuple[str, ...] = ("EdDSA",),
        leeway_seconds: int = 30,
    ) -> None:
        unsafe = sorted(set(algorithms) - set(ALLOWED_ALGORITHMS))
        if unsafe:
            raise ValueError(f"refusing token algorithms {unsafe}; allowed: {ALLOWED_ALGORITHMS}")
        self.issuer, self.audience = issuer, audience
        self.algorithms = list(algorithms)
        self.leeway = leeway_seconds
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._keys: dict[str, Any] = {}
        if jwks_file is not None:
            keyset = jwt.PyJWKSet.from_dict(json.loads(jwks_file.read_text()))
            self._keys = {k.key_id: k for k in keyset.keys}

    def _key_for(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("malformed token") from None
        if header.get("alg") not in self.algorithms:
            raise AuthenticationFailed(f"token algorithm {header.get('alg')!r} is not accepted")
        if self._client is not None:
            try:
                return self._client.get_signing_key_from_jwt(token).key
            except jwt.PyJWTError:
                raise AuthenticationFailed("token signed by an unknown key") from None
        key = self._keys.get(header.get("kid", ""))
        if key is None and len(self._keys) == 1 and "kid" not in header:
            key = next(iter(self._keys.values()))
        if key is None:
            raise AuthenticationFailed("token signed by an unknown key")
        return key.key

    def verify(self, token: str) -> Principal:
        key = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["sub", "iss", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed("token audience is not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed("token issuer is not accepted") from None
        except jwt.MissingRequiredClaimError as e:
            raise AuthenticationFailed(f"token lacks the {e.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthenticationFailed("token signature or claims are invalid") from None
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not isinstance(claims["sub"], str):
            raise AuthenticationFailed("token claims have the wrong types")
        # Unknown roles grant nothing.
        return Principal(claims["sub"], frozenset(r for r in roles if r in ROLES))
