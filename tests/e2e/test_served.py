"""A real `sequester serve` on loopback: bootstrap its first staff member, start, walk a
journey with real tokens, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.keys.tokens import sign_development_token
from tests import canaries

LEGAL_NAME = "Thaddeus Overbrook-Lindqvist"
canaries.plant(LEGAL_NAME)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(backend: str, key_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {**os.environ, "SEQUESTER_DATABASE_URL": backend, "SEQUESTER_KEY_DIR": str(key_dir),
           "SEQUESTER_LOG_FORMAT": "json"}
    workers = "2" if backend.startswith("postgresql") else "1"
    bootstrap = subprocess.run(
        [sys.executable, "-m", "ops.cli", "staff", "bootstrap", "--staff-id", "D-1",
         "--role", "director"], env=env, cwd=tmp_path, capture_output=True, text=True,
        check=False)
    assert bootstrap.returncode == 0, bootstrap.stderr
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "serve", "--port", str(port), "--workers", workers],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("sequester serve did not become ready: " + (tmp_path / "serve.log").read_text()[-2000:])
        yield base, tmp_path / "serve.log"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def bearer(key_dir: Path, sub: str, *roles: str) -> dict[str, str]:
    token = sign_development_token(key_dir, sub=sub, roles=list(roles), issuer="sequester-dev",
                                   audience="sequester", ttl=300)
    return {"Authorization": f"Bearer {token}"}


def test_director_journey_against_a_served_process(served: tuple[str, Path], key_dir: Path) -> None:
    base, log_path = served
    with httpx.Client(base_url=base, timeout=10) as http:
        first = http.post("/staff", headers=bearer(key_dir, "D-1", "director"), json={
            "staff_id": "HR-1", "display_name": "Casey N.", "job_title": "hr_specialist",
            "roles": ["hr"], "hired_on": "2024-01-08"})
        assert first.status_code == 201, first.text
        hired = http.post("/staff", headers=bearer(key_dir, "HR-1", "hr"), json={
            "staff_id": "R-1", "display_name": "Riley M.", "job_title": "recovery_coach",
            "roles": ["peer_staff"], "hired_on": "2024-02-05"})
        assert hired.status_code == 201, hired.text
        director = bearer(key_dir, "D-1", "director")
        created = http.post("/subjects", headers=director, json={
            "legal_name": LEGAL_NAME, "birth_date": "1990-01-02", "category": "employee",
            "staff_id": "R-1"})
        assert created.status_code == 201, created.text
        pseudonym = created.json()["pseudonym"]
        resolved = http.post(f"/subjects/{pseudonym}/resolve", headers=director,
                             json={"reason": "verifying enrolment"})
        assert resolved.json()["legal_name"] == LEGAL_NAME
        assert http.get("/subjects").status_code == 401
        assert "sequester_http_requests_total" in http.get("/metrics").text
    logged = log_path.read_text()
    assert '"event": "http.request"' in logged and LEGAL_NAME not in logged
