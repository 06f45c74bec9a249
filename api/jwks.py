"""The public keys that verify tokens: a JWKS file read once, or a JWKS URL fetched
and kept for a bounded time (`KeyCache`).

Rules of the cache (`SEQUESTER_JWKS_REFRESH_SECONDS`, the *interval*; the provider's
`Cache-Control: max-age` when it is shorter, never under one second):
- A fetched key set is trusted for one interval. From half of it on, one request (only
  one: the others go on with the keys they have) fetches it again; past the whole
  interval it is not used at all. So a key the provider removes stops verifying
  tokens within one interval.
- A token naming a key id the set lacks triggers at most one fetch per interval (an
  anonymous caller can make sequester fetch no more often than that); otherwise it is
  refused as signed by an unknown key.
- A fetch has a short timeout (`SEQUESTER_JWKS_TIMEOUT_SECONDS`, per connection step,
  with the whole body read within twice that). After a failed one, none is tried again
  for five seconds (or one interval, if shorter).
- Requests whose key is in a trusted set never wait on a fetch: the lock that lets one
  fetch run at a time is only taken by requests that need the fetch's result.
- With no trusted keys (never fetched, or the last fetch older than an interval and
  the provider not answering) requests get 503 `IdentityProviderUnavailable`, the
  reason is logged, and `/readyz` reports it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jwt
import structlog

from domain.errors import Unavailable

log = structlog.get_logger("sequester.auth")
MAX_JWKS_BYTES = 1024 * 1024
MIN_INTERVAL_SECONDS = 1.0
RETRY_SECONDS = 5.0
MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


class IdentityProviderUnavailable(Unavailable):
    """No trusted key can verify tokens now: the provider's keys could not be fetched."""

    kind = "IdentityProviderUnavailable"


class FetchNeeded(Exception):
    """Answering needs a fetch: call again where blocking is allowed (`may_fetch`)."""


class UnknownKey(Exception):
    """No trusted key has the token's key id."""


@dataclass(frozen=True)
class SigningKey:
    key: Any  # the public key, as `cryptography` holds it
    alg: str | None  # the algorithm its JWK declares, if it declares one


@dataclass(frozen=True)
class KeySet:
    """Keys by key id, as fetched or read; replaced whole, never changed in place."""

    keys: Mapping[str | None, SigningKey]
    fetched_at: float = 0.0
    lifetime: float = float("inf")

    def find(self, kid: str | None) -> SigningKey | None:
        key = self.keys.get(kid)
        if key is None and kid is None and len(self.keys) == 1:
            key = next(iter(self.keys.values()))  # a lone key serves tokens without a kid
        return key


def parse_keys(document: Any) -> dict[str | None, SigningKey]:
    """The signing keys of a JWKS document (keys for encryption, of unknown types or
    malformed are skipped); ValueError if none is usable."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS is not a JSON object with a list of keys")  # noqa: TRY004 - bad input, told as ValueError like the rest
    keys: dict[str | None, SigningKey] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK(data)
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        declared = data.get("alg")
        keys[jwk.key_id] = SigningKey(jwk.key, declared if isinstance(declared, str) else None)
    if not keys:
        raise ValueError("the JWKS holds no usable signing key")
    return keys


class StaticKeys:
    """A JWKS file, read once at start-up (development keys, or an agency's keyset)."""

    fetches = False

    def __init__(self, path: Path) -> None:
        self.keyset = KeySet(parse_keys(json.loads(path.read_text())))

    def key_for(self, kid: str | None, may_fetch: bool = True) -> SigningKey:
        key = self.keyset.find(kid)
        if key is None:
            raise UnknownKey
        return key

    def problem(self) -> str | None:
        return None


class KeyCache:
    """A JWKS URL's keys, fetched and kept as the module docstring says."""

    fetches = True

    def __init__(self, url: str, interval_seconds: float, timeout_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.interval, self.timeout = url, interval_seconds, timeout_seconds
        self.clock = clock
        self._keys: KeySet | None = None
        self._lock = threading.Lock()  # one fetch at a time
        self._unknown_after = float("-inf")  # when an unknown key id may fetch again
        self._retry_after = float("-inf")  # after a failed fetch
        self._problem = "the identity provider's keys have not been fetched yet"
        self._attempts = 0  # fetches begun (so a request that waited knows one ran)

    def key_for(self, kid: str | None, may_fetch: bool = True) -> SigningKey:
        """The trusted key `kid` names; UnknownKey, IdentityProviderUnavailable, or
        (without `may_fetch`) FetchNeeded when only a fetch that blocks can tell."""
        now = self.clock()
        keys = self._trusted(now)
        if keys is None:
            keys = self._fetch(now, may_fetch)
        elif now >= keys.fetched_at + keys.lifetime / 2 and now >= self._retry_after:
            self._refresh_in_background()
        key = keys.find(kid)
        if key is not None:
            return key
        if now < self._unknown_after:
            raise UnknownKey
        if not may_fetch:
            raise FetchNeeded
        self._unknown_after = now + keys.lifetime
        key = self._fetch(now, may_fetch).find(kid)
        if key is None:
            raise UnknownKey
        return key

    def problem(self) -> str | None:
        """None if tokens can be verified now, else why not (fetching if need be)."""
        now = self.clock()
        try:
            if self._trusted(now) is None:
                self._fetch(now, may_fetch=True)
        except IdentityProviderUnavailable as e:
            return e.detail
        return None

    def _trusted(self, now: float) -> KeySet | None:
        keys = self._keys
        return keys if keys is not None and now < keys.fetched_at + keys.lifetime else None

    def _refresh_in_background(self) -> None:
        """Half-way through the interval, one thread fetches while requests go on with
        the keys they have (still trusted until the interval ends)."""
        if not self._lock.acquire(blocking=False):
            return

        def refresh() -> None:
            try:
                self._fetch_locked()
            except IdentityProviderUnavailable:
                pass  # logged; the keys held stay trusted until their interval ends
            finally:
                self._lock.release()

        threading.Thread(target=refresh, name="jwks-refresh", daemon=True).start()

    def _fetch(self, now: float, may_fetch: bool) -> KeySet:
        """Keys fetched now, or by a fetch that another request had under way."""
        if now < self._retry_after:
            raise IdentityProviderUnavailable(self._problem)
        if not may_fetch:
            raise FetchNeeded
        attempts = self._attempts
        if not self._lock.acquire(timeout=self.timeout * 3):
            raise IdentityProviderUnavailable("the identity provider's keys are being fetched")
        try:
            if self._attempts != attempts:  # another request fetched while this one waited
                if self._keys is None or self.clock() < self._retry_after:
                    raise IdentityProviderUnavailable(self._problem)
                return self._keys
            return self._fetch_locked()
        finally:
            self._lock.release()

    def _fetch_locked(self) -> KeySet:
        started = self.clock()
        self._attempts += 1
        try:
            document, max_age = fetch_json(self.url, self.timeout)
            keys = parse_keys(document)
        except (OSError, ValueError) as e:
            self._problem = f"the identity provider's keys could not be fetched: {reason(e)}"
            self._retry_after = self.clock() + min(RETRY_SECONDS, self.interval)
            log.error("auth.keys_unavailable", cause=reason(e), jwks_host=urlparse(self.url).netloc)
            raise IdentityProviderUnavailable(self._problem) from None
        lifetime = max(MIN_INTERVAL_SECONDS, min(self.interval, max_age or self.interval))
        self._keys = KeySet(keys, started, lifetime)
        self._retry_after = float("-inf")
        log.info("auth.keys_fetched", key_ids=sorted(str(k) for k in keys), lifetime=lifetime)
        return self._keys


def fetch_json(url: str, timeout: float) -> tuple[Any, float | None]:
    """The JSON document at `url` and its `Cache-Control: max-age`, if any; OSError or
    ValueError saying what went wrong. The body is read within twice `timeout`."""
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "sequester"})
    deadline = time.monotonic() + 2 * timeout
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = b""
        while chunk := response.read(65536):
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError("the JWKS took too long to arrive")
        match = MAX_AGE.search(response.headers.get("Cache-Control", ""))
    try:
        return json.loads(body), float(match.group(1)) if match else None
    except ValueError:
        raise ValueError("the JWKS is not JSON") from None


def reason(error: BaseException) -> str:
    """What went wrong, in a few words (never a body or a header's value)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP status {error.code}"
    if isinstance(error, urllib.error.URLError):
        return reason(error.reason) if isinstance(error.reason, BaseException) else "unreachable"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return str(error)
