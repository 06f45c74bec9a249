"""One audit record per request, as a pure ASGI middleware (DESIGN §3 item 2).

A handler that writes or reads protected data stores the request's record itself
(`api.audit.command` / `api.audit.read`; a chart read through `api.reads`). For every
other request — refused, invalid, unknown route — the response is held back until the
middleware has stored the record from its status; if that fails, the client gets 503
instead of the response. A successful read of public data (`audit.serves_public_data`:
hash tiles, checkpoints) is not recorded; a refused or failed one is. Every response
carries its request id, and `Cache-Control: no-store` unless the handler set its own.

(Starlette's `BaseHTTPMiddleware` would do the same with a task and a stream per
request; at this request rate that overhead showed in the profile.)
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import audit, errors
from api.schemas.common import ID_PATTERN, PSEUDONYM_PATTERN

log = structlog.get_logger("sequester.api")
access_log = logging.getLogger("sequester.api")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNAUDITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(scope: Scope) -> str:
    """The matched route's template (set in the scope by the router), never the raw path:
    raw paths could carry anything a client typed."""
    path = getattr(scope.get("route"), "path", None)
    method = scope.get("method", "")
    return f"{method} {path}" if path else f"{method} (unknown route)"


#: Path parameters that name what a request is about, in the order a target is taken,
#: each with the form it must have (anything else a client typed is never recorded).
UUID_FORM = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
TARGET_PARAMS = (
    ("pseudonym", re.compile(PSEUDONYM_PATTERN)), ("grant_id", UUID_FORM),
    ("break_glass_id", UUID_FORM), ("case_id", UUID_FORM), ("request_id", UUID_FORM),
    ("staff_id", re.compile(ID_PATTERN)), ("team_id", re.compile(ID_PATTERN)),
)


def target_of(scope: Scope) -> str:
    """What a request is about, from its matched route's path parameters: a request
    refused before its handler ran (by role, by validation) is still recorded against
    its target, so the subject's access report shows the attempt."""
    params = scope.get("path_params") or {}
    for name, form in TARGET_PARAMS:
        value = str(params.get(name, ""))
        if form.match(value):
            return value
    return ""


def header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def request_id_of(scope: Scope) -> str:
    given = header(scope, b"x-request-id")
    return given if given is not None and REQUEST_ID.match(given) else uuid.uuid4().hex


class AuditedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        system = getattr(scope["app"].state, "system", None)
        record = audit.RequestAudit(request_id=request_id, action="",
                                    idempotency_key=header(scope, b"idempotency-key"),
                                    find_record=None if system is None else system.audit.find)
        started = time.perf_counter()
        held: list[Message] = []
        status = 500

        async def send_audited(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      *extra_headers(message, request_id)]
            if held or (message["type"] == "http.response.start"
                        and self.must_store(scope, record, status)):
                held.append(message)
                if not message.get("more_body", False) and message["type"] == "http.response.body":
                    await self.release(scope, record, held, status, send)
                return
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        token = audit.current.set(record)
        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            status = 500  # the outermost error handler answers; the record comes first
            if not held and self.must_store(scope, record, status):
                await self.store(scope, record, status)
            raise
        finally:
            audit.current.reset(token)
            structlog.contextvars.unbind_contextvars("request_id")
            self.observe(scope, record, status, time.perf_counter() - started)

    @staticmethod
    def must_store(scope: Scope, record: audit.RequestAudit, status: int) -> bool:
        if record.stored or scope.get("path") in UNAUDITED_PATHS:
            return False
        return not (record.public_data and status < 400)

    async def release(self, scope: Scope, record: audit.RequestAudit, held: list[Message],
                      status: int, send: Send) -> None:
        """Store the record from the response's status, then send the held response, or
        503 if the record could not be written (fail closed)."""
        if not await self.store(scope, record, status):
            response = errors.body("Unavailable", "the audit trail could not be written; retry", 503)
            response.headers["X-Request-ID"] = record.request_id
            response.headers["Cache-Control"] = "no-store"
            held.clear()
            await response(scope, _no_body, send)
            return
        for message in held:
            await send(message)
        held.clear()

    @staticmethod
    async def store(scope: Scope, record: audit.RequestAudit, status: int) -> bool:
        """Store the request's record from its status; False if it could not be written."""
        record.action = record.action or route_template(scope)
        record.target = record.target or target_of(scope)
        entry = record.entry(audit.decision_for(status), str(status), rule=record.rule or "http")
        try:
            await run_in_threadpool(scope["app"].state.system.audit.record, entry)
        except Exception as e:  # noqa: BLE001 - any failure fails the request closed
            log.error("audit.write_failed", error_type=type(e).__name__)
            return False
        record.stored = True
        return True

    @staticmethod
    def observe(scope: Scope, record: audit.RequestAudit, status: int, elapsed: float) -> None:
        route = route_template(scope)
        metrics = getattr(scope["app"].state, "metrics", None)
        if metrics is not None:
            metrics.observe(route, status, elapsed)
            if record.decided is not None:
                metrics.decision(record.decided, record.rule)
        # asked first: structlog would build the whole line before dropping it
        if access_log.isEnabledFor(logging.INFO):
            log.info("http.request", route=route, action=record.action or route,
                     status=status, principal=record.principal, ms=round(elapsed * 1000, 1))


def extra_headers(message: Message, request_id: str) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in message.get("headers", ())}
    extra = [(b"x-request-id", request_id.encode())]
    if b"cache-control" not in names:
        extra.append((b"cache-control", b"no-store"))
    return extra


async def _no_body() -> dict[str, Any]:
    return {"type": "http.disconnect"}
