"""The test suite's identity provider: `provider.js` (npm `oidc-provider`, installed
from `package-lock.json` by `npm ci` in this folder) run with Node.js, and a client
that signs accounts in through the authorization-code flow with PKCE.

Under CI=true a missing Node.js or an uninstalled provider fails the run; elsewhere
the tests that need it are skipped, saying how to install it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest

HERE = Path(__file__).parent
CLIENT_ID = "sequester-tests"
REDIRECT_URI = "http://127.0.0.1/callback"
RESOURCE = "urn:sequester:api"


def require_provider() -> str:
    """The `node` executable, once the provider's packages are installed."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "Node.js is not installed"
    elif not (HERE / "node_modules" / "oidc-provider").is_dir():
        missing = f"the test identity provider is not installed: run `npm ci` in {HERE}"
    if missing is None:
        assert node is not None
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing} (required under CI=true)")
    pytest.skip(missing)


@dataclass
class OidcProvider:
    """A running `provider.js`."""

    process: subprocess.Popen[str]
    issuer: str
    output: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, audience: str = "sequester") -> OidcProvider:
        node = require_provider()
        process = subprocess.Popen(
            [node, str(HERE / "provider.js")], cwd=HERE, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env={**os.environ, "OIDC_AUDIENCE": audience})
        assert process.stdout is not None
        output: list[str] = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("{"):
                break
        else:
            raise RuntimeError("the identity provider did not start: " + "".join(output))
        provider = cls(process, json.loads(output[-1])["issuer"], output)
        threading.Thread(target=provider._drain, daemon=True).start()
        return provider

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.issuer}/_control/{path}"
        response = httpx.get(url) if body is None and path == "state" else httpx.post(
            url, json=body or {})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def add_account(self, account_id: str, claims: dict[str, Any]) -> None:
        """An account whose access tokens carry `claims` besides `sub` (= `account_id`)."""
        self.control("accounts", {"id": account_id, "claims": claims})

    def rotate_key(self) -> str:
        """A new key signs from now on (the old one stays published); its kid."""
        return str(self.control("keys/rotate")["signing"])

    def remove_key(self, kid: str) -> None:
        self.control("keys/remove", {"kid": kid})

    @property
    def signing_kid(self) -> str:
        return str(self.control("state")["signing"])

    def add_client(self, client_id: str, redirect_uri: str) -> None:
        """A public client (PKCE, no secret) that signs in at `redirect_uri`: a browser
        console, for one, registered as a web application."""
        self.control("clients", {
            "client_id": client_id, "application_type": "web",
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"],
            "response_types": ["code"], "redirect_uris": [redirect_uri]})

    def access_token(self, account_id: str) -> str:
        """`account_id`'s access token, through `sign_in` with the tests' own client."""
        return str(self.sign_in(account_id)["access_token"])

    def sign_in(self, account_id: str, client_id: str = CLIENT_ID,
                redirect_uri: str = REDIRECT_URI) -> dict[str, Any]:
        """Sign `account_id` in: authorization request with PKCE (S256), the login and
        consent forms, the code exchanged at the token endpoint. The token response."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        with httpx.Client(base_url=self.issuer, timeout=10) as http:
            response = http.get("/auth", params={
                "client_id": client_id, "response_type": "code", "scope": "openid api",
                "redirect_uri": redirect_uri, "resource": RESOURCE, "state": secrets.token_hex(8),
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256"})
            code = self._interact(http, response, account_id, redirect_uri)
            tokens = http.post("/token", data={
                "grant_type": "authorization_code", "code": code, "client_id": client_id,
                "redirect_uri": redirect_uri, "code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
        result: dict[str, Any] = tokens.json()
        return result

    @staticmethod
    def _interact(http: httpx.Client, response: httpx.Response, account_id: str,
                  redirect_uri: str) -> str:
        """Follow the redirects, posting the login then the consent form, to the code."""
        for _ in range(12):
            if response.status_code in (302, 303):
                location = response.headers["location"]
                if location.startswith(redirect_uri):
                    query = parse_qs(urlparse(location).query)
                    assert "code" in query, location
                    return query["code"][0]
                response = http.get(urljoin(str(response.url), location))
                continue
            assert response.status_code == 200, response.text
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
            assert action and prompt, response.text
            form = {"prompt": prompt.group(1)}
            if form["prompt"] == "login":
                form |= {"login": account_id, "password": "any"}
            response = http.post(urljoin(str(response.url), action.group(1)), data=form)
        raise AssertionError("the sign-in did not end at the redirect URI")
