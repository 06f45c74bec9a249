"""Writes sent with an `Idempotency-Key` happen at most once per principal, action and
key: a retry (the client could not tell whether the first attempt committed) is
answered 409 AlreadyApplied naming the earlier request, and changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient

from ops.bootstrap import System
from tests import dbutil

Tokens = Callable[..., dict[str, str]]
SUBJECT = {"legal_name": "Wendeline Apostrophe-Marsh", "birth_date": "1979-11-30",
           "category": "public_figure", "program_labels": ["PSY"]}


def subjects(system: System) -> int:
    return sum(1 for r in dbutil.rows(system) if r[2].endswith("Subject.Enrolled"))


def records(system: System) -> list[dict[str, object]]:
    rows = [r for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded")]
    return [system.audit.repository.get(r[0]).entry for r in rows]


def test_a_retried_enrolment_enrols_once(client: TestClient, token_for: Tokens,
                                         app_system: System) -> None:
    director = {**token_for("D-1", "director"), "Idempotency-Key": "enrol-7f3a"}
    first = client.post("/subjects", headers={**director, "X-Request-ID": "first-try"}, json=SUBJECT)
    assert first.status_code == 201, first.text
    again = client.post("/subjects", headers={**director, "X-Request-ID": "retry"}, json=SUBJECT)
    assert again.status_code == 409, again.text
    body = again.json()
    assert body["error"] == "AlreadyApplied"
    assert "first-try" in body["detail"] and first.json()["pseudonym"] in body["detail"]
    assert "Wendeline" not in again.text
    assert subjects(app_system) == 1
    assert [(r["request_id"], r["outcome"]) for r in records(app_system)] == [
        ("first-try", "committed"), ("retry", "409")]


def test_the_key_is_per_principal_and_per_action(client: TestClient, token_for: Tokens,
                                                 app_system: System) -> None:
    key = {"Idempotency-Key": "same-key"}
    for director in ("D-1", "D-2"):
        response = client.post("/subjects", headers={**token_for(director, "director"), **key},
                               json=SUBJECT)
        assert response.status_code == 201, response.text
    assert subjects(app_system) == 2


def test_without_a_key_each_post_is_its_own_write(client: TestClient, token_for: Tokens,
                                                  app_system: System) -> None:
    director = token_for("D-1", "director")
    for _ in range(2):
        assert client.post("/subjects", headers=director, json=SUBJECT).status_code == 201
    assert subjects(app_system) == 2


def test_a_refused_first_attempt_can_be_retried(client: TestClient, token_for: Tokens,
                                                app_system: System) -> None:
    director = {**token_for("D-1", "director"), "Idempotency-Key": "k-1"}
    invalid = client.post("/subjects", headers=director, json={**SUBJECT, "category": "nope"})
    assert invalid.status_code == 422
    assert client.post("/subjects", headers=director, json=SUBJECT).status_code == 201
    assert subjects(app_system) == 1


def test_a_malformed_key_is_refused_and_nothing_is_written(client: TestClient, token_for: Tokens,
                                                           app_system: System) -> None:
    director = {**token_for("D-1", "director"), "Idempotency-Key": "has spaces/and slashes"}
    response = client.post("/subjects", headers=director, json=SUBJECT)
    assert response.status_code == 400, response.text
    assert "Idempotency-Key" in response.json()["detail"]
    assert subjects(app_system) == 0
    assert [r["outcome"] for r in records(app_system)] == ["400"]


def test_racing_copies_commit_once(client: TestClient, token_for: Tokens,
                                   app_system: System) -> None:
    director = {**token_for("D-1", "director"), "Idempotency-Key": "race-1"}
    statuses: list[int] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        statuses.append(client.post("/subjects", headers=director, json=SUBJECT).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(statuses) == [201, 409, 409, 409]
    assert subjects(app_system) == 1
