"""The web application factory: `create_app(settings)`; nothing built at import time."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from api import audit, errors
from api.auth import TokenVerifier
from api.metrics import Metrics
from api.schemas.common import ErrorBody
from api.routers import (
    accommodations,
    audit as audit_routes,
    break_glass,
    careers,
    charts,
    dual_relationships,
    grants,
    ops,
    staff,
    subjects,
)
from ops.bootstrap import System, build
from ops.settings import Settings

log = structlog.get_logger("sequester.api")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Every route may answer with the stable error body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in (
        (400, "Bad input"), (401, "Missing, expired or invalid token"),
        (403, "Refused by role or access policy"), (404, "Not found"),
        (409, "Conflict or out-of-order step"), (410, "Shredded"),
        (413, "Body too large"), (422, "Invalid input or broken rule"),
        (503, "Database, keys or audit trail unavailable"),
    )
}


def create_app(settings: Settings, system: System | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.system = system or build(settings)
        app.state.verifier = TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_file=settings.jwks_path(),
            jwks_url=settings.jwks_url,
            algorithms=tuple(settings.jwt_algorithms),
            leeway_seconds=settings.jwt_leeway_seconds,
        )
        app.state.metrics = Metrics(lag=lambda: _lag(app.state.system))
        worker = start_projections(app.state.system)
        try:
            yield
        finally:
            if worker is not None:
                worker[0].set()
                worker[1].join(timeout=10)
            if system is None:
                app.state.system.close()

    app = FastAPI(
        title="sequester",
        version="0.1.0",
        description=(
            "Case management for agencies whose peer staff are also clients: sequestered "
            "charts under pseudonyms, explicit audited access, dual-relationship review."
        ),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    errors.install(app)
    for module in (ops, staff, subjects, charts, grants, break_glass, dual_relationships,
                   accommodations, audit_routes, careers):
        app.include_router(module.router)
    app.middleware("http")(audited_requests)
    return app


def _lag(system: System) -> float:
    try:
        return float(system.projection_lag())
    except Exception:  # a scrape during an outage reads "unknown", not an error
        return float("nan")


def start_projections(system: System) -> tuple[threading.Event, threading.Thread] | None:
    """In development the API process also runs the projection workers."""
    if system.projections is None or not system.settings.run_projections_in_process:
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=system.projections.run_forever, args=(stop, 0.05), name="projections", daemon=True
    )
    thread.start()
    return stop, thread


def create_app_from_environment() -> FastAPI:
    """For `uvicorn --factory` (several worker processes): settings from the environment."""
    from ops.logging import configure_logging

    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


def route_template(request: Request) -> str:
    """The matched route's template (set in the scope by the router), never the raw path:
    raw paths could carry anything a client typed."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return f"{request.method} {path}" if path else f"{request.method} (unknown route)"


async def audited_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    given = request.headers.get("x-request-id", "")
    request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    structlog.contextvars.bind_contextvars(request_id=request_id)
    record = audit.RequestAudit(request_id=request_id, action="")
    token = audit.current.set(record)
    started = time.perf_counter()
    try:
        response = await call_next(request)
        route = route_template(request)
        record.action = record.action or route
        if not record.stored and request.url.path not in ("/healthz", "/readyz", "/metrics"):
            response = await store_after(request, record, response)
    finally:
        audit.current.reset(token)
        structlog.contextvars.unbind_contextvars("request_id")
    response.headers["X-Request-ID"] = request_id
    response.headers.setdefault("Cache-Control", "no-store")
    elapsed = time.perf_counter() - started
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.observe(route_template(request), response.status_code, elapsed)
    log.info(
        "http.request",
        route=route_template(request),
        action=record.action,
        status=response.status_code,
        principal=record.principal,
        ms=round(elapsed * 1000, 1),
    )
    return response


async def store_after(request: Request, record: audit.RequestAudit, response: Response) -> Response:
    """The request's one audit record, when the handler did not commit it itself."""
    status = response.status_code
    entry = record.entry(audit.decision_for(status), str(status), rule=record.rule or "http")
    system: System = request.app.state.system
    try:
        await run_in_threadpool(system.audit.record, entry)
    except Exception as e:  # fail closed: no response without its audit record
        log.error("audit.write_failed", error_type=type(e).__name__)
        return errors.body("Unavailable", "the audit trail could not be written; retry", 503)
    record.stored = True
    return response
