"""The web application factory: `create_app(settings)`; nothing built at import time."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import errors
from api.auth import verifier_for
from api.limits import BodyLimit
from api.metrics import Metrics
from api.middleware import AuditedRequests
from api.reads import AuditedReads
from api.routers import (
    accommodations,
    audit_log,
    audit_proofs,
    break_glass,
    careers,
    charts,
    dual_relationships,
    grants,
    ops,
    staff,
    subjects,
)
from api.routers import (
    audit as audit_routes,
)
from api.schemas.common import ErrorBody
from ops.bootstrap import System, build
from ops.settings import InvalidSetting, Settings, load_settings

#: Every route may answer with the stable error body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in (
        (400, "Bad input"), (401, "Missing, expired or invalid token"),
        (403, "Refused by role or access policy"), (404, "Not found"),
        (409, "Conflict or out-of-order step"), (410, "Shredded"),
        (413, "Body too large"), (414, "Query string too long"),
        (422, "Invalid input or broken rule"),
        (503, "Database, keys, identity provider or audit trail unavailable"),
    )
}


def create_app(settings: Settings, system: System | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.system = system or build(settings)
        app.state.verifier = verifier_for(settings)
        app.state.reads = AuditedReads(app.state.system.chart_access.assess_all,
                                       app.state.system.audit)
        app.state.metrics = Metrics(lag=lambda: _lag(app.state.system))
        worker = start_projections(app.state.system)
        try:
            yield
        finally:
            app.state.reads.close()
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
            "charts under pseudonyms, explicit audited access, dual-relationship review. "
            "A write sent with an `Idempotency-Key` header (1 to 128 letters, digits, "
            "`.`, `_`, `:` or `-`) is done at most once per principal, action and key: a "
            "retry of a write that committed is answered 409 `AlreadyApplied`."
        ),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # No OpenTelemetry here (metrics are /metrics, logs are structlog's): off, so
        # FastAPI does not look for OTel providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    # charts first: FastAPI tries the included routers in order, and chart reads are
    # most requests (no two routers' paths overlap, so the order changes nothing else)
    for module in (charts, ops, staff, subjects, grants, break_glass, dual_relationships,
                   accommodations, audit_routes, audit_proofs, audit_log, careers):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)  # inside the audit
    app.add_middleware(AuditedRequests)
    return app


def _lag(system: System) -> float:
    try:
        return float(system.projection_lag())
    except Exception:  # noqa: BLE001 - a scrape during an outage reads "unknown", not an error
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
    """For `uvicorn --factory` (several worker processes): settings from the environment;
    an invalid one is one line on stderr and exit status 2."""
    import sys

    from ops.logging import configure_logging

    try:
        settings = load_settings()
    except InvalidSetting as e:
        print(f"sequester: {e.detail}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings)
    return create_app(settings)
