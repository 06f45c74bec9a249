"""The JWKS cache against a real HTTP server on loopback that can change its keys, its
Cache-Control, fail, or hang; the cache's clock is the test's, so intervals are exact."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from api.jwks import FetchNeeded, IdentityProviderUnavailable, KeyCache, UnknownKey

INTERVAL = 300.0


def jwk(kid: str) -> dict[str, Any]:
    public = Ed25519PrivateKey.generate().public_key()
    return json.loads(OKPAlgorithm.to_jwk(public)) | {"kid": kid, "alg": "EdDSA", "use": "sig"}


@dataclass
class Jwks:
    """What the server answers; `hang` makes it accept and never answer (until released)."""

    keys: list[dict[str, Any]] = field(default_factory=lambda: [jwk("A")])
    cache_control: str | None = None
    status: int = 200
    body: bytes | None = None
    hang: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0

    def serve(self, kids: list[str]) -> None:
        self.keys = [jwk(kid) for kid in kids]


@pytest.fixture
def jwks() -> Iterator[tuple[Jwks, str]]:
    state = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if state.hang.is_set():
                state.release.wait(30)
                return
            body = state.body if state.body is not None else json.dumps(
                {"keys": state.keys}).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            if state.cache_control:
                self.send_header("Cache-Control", state.cache_control)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    state.release.set()
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(url: str, clock: Clock, timeout: float = 0.3) -> KeyCache:
    return KeyCache(url, INTERVAL, timeout, clock=clock)


def wait_for_refresh(c: KeyCache) -> None:
    """Until the background refresh (if one runs) is done."""
    c._lock.acquire(timeout=10)
    c._lock.release()


def test_keys_are_fetched_once_and_then_come_from_memory(jwks: tuple[Jwks, str]) -> None:
    state, url = jwks
    clock = Clock()
    c = cache(url, clock)
    first = c.key_for("A")
    clock.now += INTERVAL / 2 - 1
    assert c.key_for("A") is first and c.key_for("A", may_fetch=False) is first
    assert state.requests == 1 and c.problem() is None


def test_without_keys_at_hand_verifying_must_fetch(jwks: tuple[Jwks, str]) -> None:
    _, url = jwks
    with pytest.raises(FetchNeeded):
        cache(url, Clock()).key_for("A", may_fetch=False)


def test_an_unknown_kid_fetches_at_most_once_per_interval(jwks: tuple[Jwks, str]) -> None:
    state, url = jwks
    clock = Clock()
    c = cache(url, clock)
    c.key_for("A")
    state.serve(["A", "B"])
    assert c.key_for("B") is not None  # a new key: one fetch finds it
    assert state.requests == 2
    for kid in ("forged-1", "forged-2", "forged-3"):
        with pytest.raises(UnknownKey):
            c.key_for(kid)
    assert state.requests == 2  # an anonymous caller cannot make it fetch again
    clock.now += INTERVAL / 2 - 1
    with pytest.raises(UnknownKey):
        c.key_for("forged-4", may_fetch=False)  # refused on the event loop, no fetch
    assert state.requests == 2


def test_a_removed_key_stops_being_trusted_within_the_interval(jwks: tuple[Jwks, str]) -> None:
    state, url = jwks
    clock = Clock()
    c = cache(url, clock)
    c.key_for("A")
    state.serve(["B"])
    clock.now += INTERVAL / 2  # half-way: still trusted, and refreshed in the background
    assert c.key_for("A") is not None
    wait_for_refresh(c)
    assert state.requests == 2
    with pytest.raises(UnknownKey):
        c.key_for("A")


def test_past_the_interval_a_key_is_never_used_unconfirmed(jwks: tuple[Jwks, str]) -> None:
    state, url = jwks
    clock = Clock()
    c = cache(url, clock)
    c.key_for("A")
    state.status, state.body = 500, b"down"
    clock.now += INTERVAL / 2
    c.key_for("A")  # its background refresh fails; the keys are trusted until the end
    wait_for_refresh(c)
    clock.now += INTERVAL / 2
    with pytest.raises(IdentityProviderUnavailable, match="HTTP status 500"):
        c.key_for("A")
    assert "HTTP status 500" in str(c.problem())


def test_a_shorter_cache_control_max_age_is_honoured(jwks: tuple[Jwks, str]) -> None:
    state, url = jwks
    state.cache_control = "public, max-age=10, must-revalidate"
    clock = Clock()
    c = cache(url, clock)
    c.key_for("A")
    state.serve(["B"])
    clock.now += 10
    with pytest.raises(UnknownKey):
        c.key_for("A")
    state.cache_control = "max-age=86400"  # longer than the setting: the setting wins
    clock.now += 10
    c.key_for("B")
    clock.now += INTERVAL
    state.serve(["C"])
    with pytest.raises(UnknownKey):
        c.key_for("B")


def test_a_hanging_provider_gives_503_after_the_timeout_then_at_once(
    jwks: tuple[Jwks, str]
) -> None:
    state, url = jwks
    state.hang.set()
    c = cache(url, Clock())
    with pytest.raises(IdentityProviderUnavailable, match="timed out"):
        c.key_for("A")
    with pytest.raises(IdentityProviderUnavailable, match="timed out"):
        c.key_for("A", may_fetch=False)  # no second wait: retried after a pause
    assert state.requests == 1
    assert "timed out" in str(c.problem())


def test_a_hanging_refresh_never_holds_up_requests_whose_keys_are_cached(
    jwks: tuple[Jwks, str]
) -> None:
    state, url = jwks
    clock = Clock()
    c = cache(url, clock, timeout=5)
    key = c.key_for("A")
    state.hang.set()
    clock.now += INTERVAL / 2 + 1
    assert c.key_for("A") is key  # starts the refresh, which hangs
    for _ in range(50):
        if state.requests == 2:
            break
        threading.Event().wait(0.02)
    assert c._lock.locked() and state.requests == 2  # the refresh is stuck on the socket
    assert c.key_for("A") is key and c.key_for("A", may_fetch=False) is key
    state.release.set()


def test_a_provider_that_is_down(jwks: tuple[Jwks, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    c = cache(f"http://127.0.0.1:{port}/jwks", Clock())
    with pytest.raises(IdentityProviderUnavailable, match="connection refused"):
        c.key_for("A")


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html>", "not JSON"),
    (b'{"keys": []}', "no usable signing key"),
    (b'{"keys": [{"kty": "RSA", "use": "enc", "kid": "A", "n": "AQAB", "e": "AQAB"}]}',
     "no usable signing key"),
    (b"[]", "not a JSON object"),
])
def test_a_useless_key_set_is_named(jwks: tuple[Jwks, str], body: bytes, reason: str) -> None:
    state, url = jwks
    state.body = body
    with pytest.raises(IdentityProviderUnavailable, match=reason):
        cache(url, Clock()).key_for("A")
