"""Bearer tokens: signature checked against configured public keys (a JWKS file or
URL, `api.jwks`), algorithms pinned to asymmetric ones, issuer, audience, expiry and
issue time required, clock skew bounded. What the token says about its holder is read
by `ClaimRules`: the staff id from `SEQUESTER_JWT_STAFF_ID_CLAIM`, the roles from the
list at `SEQUESTER_JWT_ROLES_CLAIM`, renamed by `SEQUESTER_JWT_ROLE_MAP`. These are
only *claimed* roles: the staff record settles them (`domain.staff.authority`).

Any failure is a 401 whose `category` (expired, unknown_key, audience, issuer,
signature, algorithm, malformed, claims, not_yet_valid, missing) is logged and audited,
and whose reason names the claim that was wrong; never the token or a claim's value.

A client sends the same token with every request until it expires, and checking a
signature costs more than the rest of an authorized read's CPU outside the database. A
token that verified is therefore remembered (bounded, least recently used first out)
until its `exp`, and for at most one JWKS interval (`SEQUESTER_JWKS_REFRESH_SECONDS`):
a token signed by a key the provider removed stops being accepted within it too.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import structlog

from api.jwks import KeyCache, SigningKey, StaticKeys, UnknownKey
from domain.errors import InvalidInput
from domain.staff.aggregate import ROLES
from domain.staff.ids import canonical_staff_id
from ops.claim_paths import ABSENT, ClaimShapeError, claim_at, parse_claim_path
from ops.settings import ALLOWED_ALGORITHMS, Settings

log = structlog.get_logger("sequester.auth")
MAX_TOKEN_CHARS = 16384
MAX_LOGGED_NAMES = 256


class AuthenticationFailed(Exception):
    def __init__(self, reason: str, category: str = "claims") -> None:
        super().__init__(reason)
        self.reason, self.category = reason, category


@dataclass(frozen=True)
class Principal:
    """Who is asking, with its effective roles (the token's, settled by the staff record)."""

    staff_id: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Claimed:
    """What a verified token says: the staff id and the sequester roles it claims."""

    staff_id: str
    roles: frozenset[str]


class ClaimRules:
    """Reads the staff id and the claimed roles from a verified token's claims."""

    def __init__(self, roles_claim: str = "roles", role_map: Mapping[str, str] | None = None,
                 staff_id_claim: str = "sub") -> None:
        self.roles_claim, self.staff_id_claim = roles_claim, staff_id_claim
        self.roles_path, self.staff_id_path = (parse_claim_path(roles_claim),
                                               parse_claim_path(staff_id_claim))
        self.role_map = dict(role_map) if role_map else None
        self._ignored: set[str] = set()  # provider names already logged

    def read(self, claims: dict[str, Any]) -> Claimed:
        return Claimed(self.staff_id(claims), self.roles(claims))

    def staff_id(self, claims: dict[str, Any]) -> str:
        name = self.staff_id_claim
        value = self._at(claims, self.staff_id_path)
        if value is ABSENT:
            raise AuthenticationFailed(f"token lacks the {name!r} claim")
        if not isinstance(value, str):
            raise AuthenticationFailed(f"token claim {name!r} must be a string")
        try:
            return canonical_staff_id(value)
        except InvalidInput as e:
            raise AuthenticationFailed(f"token claim {name!r} is not a staff id: {e.detail}"
                                       ) from None

    def roles(self, claims: dict[str, Any]) -> frozenset[str]:
        names = self._at(claims, self.roles_path)
        if names is ABSENT or names is None:
            return frozenset()
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise AuthenticationFailed(f"token claim {self.roles_claim!r} must be a list of strings")
        if self.role_map is not None:
            roles = {self.role_map[n] for n in names if n in self.role_map}
            ignored = [n for n in names if n not in self.role_map]
        else:
            roles = {n for n in names if n in ROLES}
            ignored = [n for n in names if n not in ROLES]
        self._log_ignored(ignored)
        return frozenset(roles)

    def _at(self, claims: dict[str, Any], path: tuple[str, ...]) -> Any:
        try:
            return claim_at(claims, path)
        except ClaimShapeError as e:
            raise AuthenticationFailed(str(e)) from None

    def _log_ignored(self, names: list[str]) -> None:
        """Each provider name that grants nothing is logged once (a bounded number)."""
        for name in names:
            if name not in self._ignored and len(self._ignored) < MAX_LOGGED_NAMES:
                self._ignored.add(name)
                log.info("auth.role_name_ignored", name=name[:100],
                         mapped=self.role_map is not None)


def number(claims: dict[str, Any], name: str, required: bool = True) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if value is None:
        raise AuthenticationFailed(f"token lacks the {name!r} claim")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationFailed(f"token claim {name!r} must be a number (seconds since 1970)")
    return float(value)


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
        rules: ClaimRules | None = None,
        refresh_seconds: float = 300.0,
        fetch_timeout_seconds: float = 3.0,
    ) -> None:
        unsafe = sorted(set(algorithms) - set(ALLOWED_ALGORITHMS))
        if unsafe:
            raise ValueError(f"refusing token algorithms {unsafe}; allowed: {ALLOWED_ALGORITHMS}")
        self.issuer, self.audience = issuer, audience
        self.algorithms = list(algorithms)
        self.leeway = leeway_seconds
        self.rules = rules or ClaimRules()
        self.remember_seconds = refresh_seconds
        if jwks_url:
            self.keys: KeyCache | StaticKeys = KeyCache(jwks_url, refresh_seconds,
                                                        fetch_timeout_seconds)
        elif jwks_file is not None:
            self.keys = StaticKeys(jwks_file)
        else:
            raise ValueError("a JWKS file or URL is required")
        self._verified: OrderedDict[str, tuple[Claimed, float, float]] = OrderedDict()
        self.cache_size = 4096
        self.clock = time.time
        self._lock = threading.Lock()

    @property
    def fetches_keys(self) -> bool:
        """Whether verifying may fetch keys over the network (a JWKS URL)."""
        return self.keys.fetches

    def verify(self, token: str, may_fetch: bool = True) -> Claimed:
        """The token's claims; AuthenticationFailed, IdentityProviderUnavailable, or
        (without `may_fetch`) FetchNeeded if verifying it needs a fetch that blocks."""
        now = self.clock()
        with self._lock:
            cached = self._verified.get(token)
            if cached is not None:
                claimed, expires, until = cached
                if now > expires + self.leeway:
                    del self._verified[token]
                    raise AuthenticationFailed("token expired", "expired")
                if now < until:
                    self._verified.move_to_end(token)
                    return claimed
                del self._verified[token]  # verify again: its key may have been removed
        claimed, expires = self._verify(token, now, may_fetch)
        with self._lock:
            self._verified[token] = (claimed, expires, now + self.remember_seconds)
            while len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return claimed

    def _verify(self, token: str, now: float, may_fetch: bool) -> tuple[Claimed, float]:
        payload = self._signed_payload(token, may_fetch)
        self._check_registered(payload, now)
        return self.rules.read(payload), float(payload["exp"])

    def _signed_payload(self, token: str, may_fetch: bool) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthenticationFailed("malformed token (too long)", "malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("malformed token", "malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise AuthenticationFailed(f"token algorithm {alg!r} is not accepted", "algorithm")
        try:
            key = self.keys.key_for(kid, may_fetch)
        except UnknownKey:
            raise AuthenticationFailed("token signed by an unknown key", "unknown_key") from None
        if key.alg not in (None, alg):
            raise AuthenticationFailed(f"token algorithm {alg!r} is not its key's", "algorithm")
        return self._decoded(token, key, alg)

    def _decoded(self, token: str, key: SigningKey, alg: str) -> dict[str, Any]:
        try:
            signed = jwt.api_jws.decode_complete(token, key.key, algorithms=[alg])
        except jwt.InvalidSignatureError:
            raise AuthenticationFailed("token signature or claims are invalid", "signature"
                                       ) from None
        except jwt.PyJWTError:
            raise AuthenticationFailed("malformed token", "malformed") from None
        try:
            payload = json.loads(signed["payload"])
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise AuthenticationFailed("malformed token (its payload is not a JSON object)",
                                       "malformed")
        return payload

    def _check_registered(self, claims: dict[str, Any], now: float) -> None:
        """exp, iat (and nbf if present) as numbers; then expiry, issuer, audience."""
        expires, issued = number(claims, "exp"), number(claims, "iat")
        not_before = number(claims, "nbf", required=False)
        assert expires is not None and issued is not None
        if now > expires + self.leeway:
            raise AuthenticationFailed("token expired", "expired")
        if max(issued, not_before or issued) > now + self.leeway:
            raise AuthenticationFailed("token is not valid yet (iat or nbf in the future)",
                                       "not_yet_valid")
        issuer = claims.get("iss")
        if issuer is None:
            raise AuthenticationFailed("token lacks the 'iss' claim")
        if issuer != self.issuer:
            raise AuthenticationFailed("token issuer is not accepted", "issuer")
        audience = claims.get("aud")
        if audience is None:
            raise AuthenticationFailed("token lacks the 'aud' claim")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise AuthenticationFailed("token claim 'aud' must be a string or a list of strings")
        if self.audience not in audiences:
            raise AuthenticationFailed("token audience is not accepted", "audience")


def verifier_for(settings: Settings) -> TokenVerifier:
    """The token verifier the settings describe."""
    return TokenVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_file=settings.jwks_path(),
        jwks_url=settings.jwks_url,
        algorithms=tuple(settings.jwt_algorithms),
        leeway_seconds=settings.jwt_leeway_seconds,
        rules=ClaimRules(settings.jwt_roles_claim, settings.jwt_role_map,
                         settings.jwt_staff_id_claim),
        refresh_seconds=settings.jwks_refresh_seconds,
        fetch_timeout_seconds=settings.jwks_timeout_seconds,
    )
