"""Bad input, on both backends: malformed and oversized bodies, unknown fields, wrong
types, bytes that are not UTF-8, traversal and NULs in paths, huge query strings.

Each gets a 4xx with the stable error body and leaves exactly one record — its audit
record — and no domain event; the service stays healthy and a valid write still works.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from ops.bootstrap import System
from tests import dbutil

Tokens = Callable[..., dict[str, str]]
AUDIT_TOPICS = ("AuditRecord.Recorded", "DirectorAuditNote.Noted")
JSON = {"content-type": "application/json"}
LIMIT = 1024 * 1024  # the default SEQUESTER_MAX_BODY_BYTES


def hire_body(staff_id: object = "S-1", **changes: Any) -> dict[str, Any]:
    body = {"staff_id": staff_id, "display_name": "Sam", "job_title": "clinician",
            "roles": ["clinician"], "hired_on": "2024-01-01"}
    return {**body, **changes}


@dataclass
class Bad:
    name: str
    method: str
    path: str
    who: str = "hr"  # which token, if any
    kw: dict[str, Any] = field(default_factory=dict)
    status: tuple[int, ...] = (422,)
    names: str = ""  # the detail must name this


BAD = [
    Bad("malformed JSON", "POST", "/staff",
        kw={"content": b'{"staff_id": "S-1",', "headers": JSON}, names="not valid JSON"),
    Bad("JSON that is not an object", "POST", "/staff", kw={"content": b"[1, 2]", "headers": JSON}),
    Bad("deeply nested JSON", "POST", "/staff",
        kw={"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON}, status=(400, 422)),
    Bad("no body", "POST", "/staff"),
    Bad("a form instead of JSON", "POST", "/staff", kw={"data": {"staff_id": "S-1"}}),
    Bad("bytes that are not UTF-8", "POST", "/staff",
        kw={"content": b'{"staff_id": "S-\xff\xfe1"}', "headers": JSON}, status=(400, 422)),
    Bad("an unknown field", "POST", "/staff", kw={"json": hire_body(is_admin=True)},
        names="is_admin"),
    Bad("wrong types", "POST", "/staff",
        kw={"json": hire_body(staff_id=123, roles="clinician", hired_on="yesterday")},
        names="hired_on"),
    Bad("an unknown role", "POST", "/staff", kw={"json": hire_body(roles=["root"])},
        status=(400, 422)),
    Bad("a right-to-left override in an id", "POST", "/staff",
        kw={"json": hire_body(staff_id="S-1\u202egpj.exe")}, names="staff_id"),
    Bad("a legal name of 10,000 characters", "POST", "/subjects", who="director",
        kw={"json": {"legal_name": "N" * 10_000, "birth_date": "1980-01-01",
                     "category": "employee"}}, names="legal_name"),
    Bad("encoded traversal in a pseudonym", "GET", "/charts/..%2F..%2Fetc", who="director",
        status=(404, 422)),
    Bad("traversal in a staff id", "GET", "/staff/../x", status=(404,)),
    Bad("dot segments encoded", "GET", "/staff/%2E%2E/%2E%2E/etc/passwd", status=(404, 422)),
    Bad("an encoded NUL in a path id", "GET", "/staff/S-1%00", status=(400,), names="NUL"),
    Bad("an encoded NUL in a query filter", "GET", "/audit/events?principal=a%00b",
        who="director", status=(400,), names="NUL"),
    Bad("a huge query string", "GET", "/subjects?x=" + "A" * 20_000, who="director",
        status=(414,)),
    Bad("a long value for a bounded filter", "GET", "/audit/events?principal=" + "A" * 5_000,
        who="director", names="principal"),
    Bad("a huge integer", "GET", f"/audit/events?limit={10**40}", who="director",
        names="limit"),
    Bad("a declared body over the limit", "POST", "/staff",
        kw={"content": b" " * (LIMIT + 1), "headers": JSON}, status=(413,), names="limit"),
    Bad("a streamed body over the limit", "POST", "/staff",
        kw={"content": "chunks", "headers": JSON}, status=(413,), names="limit"),
]


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (sent chunked): the limit is found while it streams."""
    sent = 0
    while sent < total:
        chunk = b" " * min(size, total - sent)
        sent += len(chunk)
        yield chunk


def stored(system: System) -> Counter[str]:
    """Stored events by kind: "audit" for audit records, else the event's topic."""
    return Counter("audit" if r[2].endswith(AUDIT_TOPICS) else r[2] for r in dbutil.rows(system))


def send(client: TestClient, tokens: dict[str, dict[str, str]], bad: Bad) -> Any:
    kw = dict(bad.kw)
    headers = {**tokens.get(bad.who, {}), **kw.pop("headers", {})}
    if kw.get("content") == "chunks":
        kw["content"] = chunks(LIMIT + 1)
    return client.request(bad.method, bad.path, headers=headers, **kw)


def test_each_bad_request_gets_a_4xx_and_appends_only_its_audit_record(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    tokens = {"hr": token_for("HR-1", "hr"), "director": token_for("D-1", "director", "auditor")}
    problems = []
    for bad in BAD:
        before = stored(app_system)
        response = send(client, tokens, bad)
        body = response.json()
        after = stored(app_system)
        if response.status_code not in bad.status:
            problems.append(f"{bad.name}: {response.status_code} {response.text[:200]}")
        elif set(body) - {"problems", "rule"} != {"error", "detail"} or bad.names not in str(body):
            problems.append(f"{bad.name}: not the stable error body naming {bad.names!r}: {body}")
        elif after - before != Counter({"audit": 1}):
            problems.append(f"{bad.name}: stored {dict(after - before)}, not one audit record")
    assert problems == []
    assert client.get("/healthz").status_code == 200


def test_a_body_exactly_at_the_limit_is_not_refused_for_its_size(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    hr = {**token_for("HR-1", "hr"), **JSON}
    for staff_id, stream in (("S-1", False), ("S-2", True)):
        payload = b'{"staff_id": "%s", "display_name": "Sam", "job_title": "clinician", ' \
                  b'"roles": ["clinician"], "hired_on": "2024-01-01"}' % staff_id.encode()
        padded = payload + b" " * (LIMIT - len(payload))
        content = iter([padded[: LIMIT // 2], padded[LIMIT // 2 :]]) if stream else padded
        response = client.post("/staff", headers=hr, content=content)
        assert response.status_code == 201, response.text
        assert app_system.staff.exists(staff_id)


def test_after_the_bad_input_the_service_is_healthy_and_writes_work(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    tokens = {"hr": token_for("HR-1", "hr"), "director": token_for("D-1", "director", "auditor")}
    for bad in BAD:
        assert 400 <= send(client, tokens, bad).status_code < 500, bad.name
    assert client.get("/healthz").status_code == 200
    written = client.post("/staff", headers=tokens["hr"], json=hire_body("S-7"))
    assert written.status_code == 201, written.text
    read = client.get("/staff/S-7", headers=tokens["hr"])
    assert (read.status_code, read.json()["display_name"]) == (200, "Sam")
    ready = client.get(f"/audit/events?after={written.json()['position']}&action=staff.create",
                       headers=tokens["director"])
    assert ready.status_code == 200 and ready.json()["items"]
    assert client.get("/readyz").json()["status"] == "ready"


def test_a_nul_in_a_body_string_is_refused(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    from tests.e2e.test_chart_journeys import CLINICIAN, Journey, build_world, entry, grant

    j = Journey(client, token_for)
    world = build_world(j)
    grant(j, "C-1", world.other)
    before = stored(app_system)
    response = j.post(f"/charts/{world.other}/entries", CLINICIAN,
                      json=entry(service_code="90\u0000834"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "invalid or missing: service_code"
    assert "must not contain a NUL" in response.json()["problems"][0]["problem"]
    assert stored(app_system) - before == Counter({"audit": 1})
