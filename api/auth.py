"""Bearer tokens: signature checked against configured public keys (a JWKS file or
URL), algorithms pinned to asymmetric ones, issuer, audience and expiry required,
clock skew bounded. Any failure is a 401 naming what was wrong, never the token.

A client sends the same token with every request until it expires, and checking a
signature costs more than the rest of an authorized read's CPU outside the database. A
token that verified is therefore remembered (bounded, least recently used first out)
with its expiry, which is checked again on every use; a cached token is never trusted
past its `exp`. Keys are not revoked mid-token here: tokens are short-lived.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
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
        self._keys: dict[str | None, Any] = {}
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self.cache_size = 4096
        self.clock = time.time
        self._lock = threading.Lock()  # verify may run in the thread pool (JWKS URL)
        if jwks_file is not None:
            keyset = jwt.PyJWKSet.from_dict(json.loads(jwks_file.read_text()))
            self._keys = {k.key_id: k for k in keyset.keys}

    @property
    def fetches_keys(self) -> bool:
        """Whether verifying may fetch keys over the network (a JWKS URL)."""
        return self._client is not None

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
        with self._lock:
            cached = self._verified.get(token)
            if cached is not None:
                if self.clock() > cached[1] + self.leeway:
                    del self._verified[token]
                    raise AuthenticationFailed("token expired")
                self._verified.move_to_end(token)
                return cached[0]
        principal, expires = self._verify(token)
        with self._lock:
            self._verified[token] = (principal, expires)
            while len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
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
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthenticationFailed("the token's roles claim must be a list of role names")
        if not isinstance(claims["sub"], str):
            raise AuthenticationFailed("the token's sub claim must be a string")
        # Unknown roles grant nothing.
        return Principal(claims["sub"], frozenset(r for r in roles if r in ROLES)), float(claims["exp"])
