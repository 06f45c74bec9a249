"""Stateful fuzzing: schemathesis follows the links it infers between operations (hire a
staff member, then read it, sign its agreement, enrol a subject for it, assign it, …)
with one director + privacy-officer token (plus HR and clinical deputy, so the hiring and
dual-relationship chains get past their role checks) against the app in process.

No response is a server error and every response matches the schema. Legal names and a
note planted through the API first appear in no response body or header, and in no row
of any table (read models included) once the projections have caught up.

Each scenario starts from a fresh copy of the planted database: the state a scenario
leaves behind would otherwise change what the next one can do, which Hypothesis rightly
reports as flaky generation.
"""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app, start_projections
from ops.bootstrap import System, build
from ops.settings import Settings
from tests import canaries
from tests.principals import on_staff, token_headers

LEGAL_NAMES = ("Orsolya Quenneville-Dapp", "Thaddeus Wyncombe-Ilsley")
NOTE = "Talked through the custody hearing with Marisol Tennefoss-Vey"
canaries.plant(*LEGAL_NAMES, NOTE, "Marisol Tennefoss-Vey")
PLANTED = (*LEGAL_NAMES, NOTE)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
FUZZER_ROLES = ["director", "privacy_officer", "hr", "clinical_deputy"]


@dataclass
class Fuzzing:
    client: TestClient
    template: System
    workdir: Path
    seen: list[tuple[str, str]] = field(default_factory=list)  # (operation, headers + body)
    failures: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    scenarios: int = 0

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.client.app  # type: ignore[assignment]
        return app

    def token(self, sub: str, *roles: str) -> dict[str, str]:
        """A token of a staff member on the planted database's staff (`on_staff`)."""
        on_staff(self.template, sub, roles)
        return token_headers(self.template.settings.key_dir, sub, roles, ttl=3600)

    def ok(self, method: str, path: str, who: dict[str, str], **kw: Any) -> dict[str, Any]:
        response = self.client.request(method, path, headers=who, **kw)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    def fresh_system(self) -> System:
        """A copy of the planted database, served from now on."""
        self.scenarios += 1
        path = self.workdir / f"scenario-{self.scenarios}.db"
        with sqlite3.connect(self.template.settings.sqlite_path()) as source, \
                sqlite3.connect(path) as target:
            source.backup(target)
        settings = self.template.settings.model_copy(update={"database_url": f"sqlite:///{path}"})
        system = build(settings)
        self.app.state.system = system
        return system

    def check_stored(self, system: System) -> None:
        path = Path(system.settings.sqlite_path())
        for table, text in stored_text(path):
            if any(p in text for p in PLANTED):
                self.leaks.append(f"planted text in table {table} ({path.name})")


@pytest.fixture
def fuzzing(tmp_path: Path) -> Iterator[Fuzzing]:
    from tests.conftest import make_keys

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'planted.db'}",
                        key_dir=make_keys(tmp_path / "keys"))
    system = build(settings)
    with TestClient(create_app(settings, system)) as client:
        yield Fuzzing(client, system, tmp_path)
        client.app.state.system = system  # type: ignore[attr-defined]
    system.close()


def plant(f: Fuzzing) -> None:
    """Two subjects under canary legal names (one an employee-client) and a charted note."""
    hr, director = f.token("HR-1", "hr"), f.token("D-1", "director")
    for staff_id, title, role in (("C-1", "clinician", "clinician"),
                                  ("R-1", "recovery_support_specialist", "peer_staff")):
        f.ok("POST", "/staff", hr, json={"staff_id": staff_id, "display_name": staff_id,
                                         "job_title": title, "roles": [role],
                                         "hired_on": "2023-05-01"})
        f.ok("POST", f"/staff/{staff_id}/confidentiality-agreements", hr,
             json={"version": "2023-1", "signed_on": "2023-05-01"})
    pseudonyms = [
        f.ok("POST", "/subjects", director, json={
            "legal_name": name, "birth_date": "1981-04-05", "category": category,
            "enrolled_on": "2024-01-15", **extra})["pseudonym"]
        for name, category, extra in ((LEGAL_NAMES[0], "employee", {"staff_id": "R-1"}),
                                      (LEGAL_NAMES[1], "public_figure", {}))
    ]
    granted = f.ok("POST", "/grants", f.token("PO-1", "privacy_officer"), json={
        "grantee": "C-1", "pseudonym": pseudonyms[1], "scope": "write", "purpose": "TREAT",
        "expires_at": (datetime.now(UTC) + timedelta(days=300)).isoformat(),
        "justification": "assigned treating clinician"})
    f.ok("POST", f"/grants/{granted['grant_id']}/confirm", director)
    f.ok("POST", f"/charts/{pseudonyms[1]}/entries", f.token("C-1", "clinician"), json={
        "activity_type": "individual_session", "service_date": "2024-06-03", "note": NOTE})
    assert f.template.projections is not None
    f.template.projections.catch_up()


def fuzzable_schema(app: FastAPI) -> Any:
    """The app's own schema, less `StaffCreate.supervisor_id`: schemathesis' dependency
    analysis reads that optional field as a reference to a resource no operation creates,
    and then never starts a scenario at POST /staff, the head of most chains. Requests go
    to the app through `without_lifespan`: the test client already runs its lifespan."""
    raw = copy.deepcopy(app.openapi())
    raw["components"]["schemas"]["StaffCreate"]["properties"].pop("supervisor_id")
    schema = schemathesis.openapi.from_dict(raw)

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    schema.app, schema.location = without_lifespan, "/openapi.json"
    return schema


def fuzz(f: Fuzzing, max_examples: int = 25) -> None:
    headers = f.token("D-001", *FUZZER_ROLES)

    class Workflow(fuzzable_schema(f.app).as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.system = f.fresh_system()
            self.worker = start_projections(self.system)

        def teardown(self) -> None:
            if self.worker is not None:
                self.worker[0].set()
                self.worker[1].join(timeout=10)
            assert self.system.projections is not None
            self.system.projections.catch_up()
            f.check_stored(self.system)
            self.system.close()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            f.seen.append((case.operation.label, f"{dict(response.headers)}\n{response.text}"))

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as e:
                f.failures.append(f"{case.operation.label} -> {response.status_code}: {e}")

    Workflow.run(settings=hypothesis.settings(
        max_examples=max_examples, stateful_step_count=6, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck),
    ))


def stored_text(database: Path) -> Iterator[tuple[str, str]]:
    """(table, value) for every cell of every table, bytes decoded leniently."""
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # names from sqlite_master
                for value in row:
                    yield table, (value.decode("utf-8", "replace") if isinstance(value, bytes)
                                  else str(value))


def test_planted_text_is_stored_nowhere_in_plain(fuzzing: Fuzzing) -> None:
    """The leak check below can see a leak: the planted rows are there, sealed."""
    plant(fuzzing)
    tables = {table for table, _ in stored_text(Path(fuzzing.template.settings.sqlite_path()))}
    assert {"rm_chart_entries_v2", "rm_subject_list_v2"} <= tables
    fuzzing.check_stored(fuzzing.template)
    assert fuzzing.leaks == []
    assert any(NOTE in text for _, text in plain_copy(fuzzing))


def plain_copy(f: Fuzzing) -> Iterator[tuple[str, str]]:
    """The planted note as the chart read returns it, for the positive control above."""
    chart = f.client.get("/subjects", headers=f.token("D-1", "director")).json()
    for item in chart["items"]:
        response = f.client.get(f"/charts/{item['pseudonym']}", headers=f.token("C-1", "clinician"))
        yield item["pseudonym"], response.text


@pytest.mark.slow
def test_stateful_fuzzing_breaks_nothing_and_leaks_no_planted_text(fuzzing: Fuzzing) -> None:
    plant(fuzzing)
    fuzz(fuzzing)
    assert not fuzzing.failures, "\n".join(fuzzing.failures[:5])
    labels = {label for label, _ in fuzzing.seen}
    assert len(fuzzing.seen) >= 50 and len(labels) >= 10, sorted(labels)
    for label, text in fuzzing.seen:
        assert not any(p in text for p in PLANTED), f"{label} returned planted text"
    assert fuzzing.scenarios >= 10 and fuzzing.leaks == [], fuzzing.leaks
    fuzzing.client.app.state.system = fuzzing.template  # type: ignore[attr-defined]
    assert fuzzing.client.get("/healthz").status_code == 200
