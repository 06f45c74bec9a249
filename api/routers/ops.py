"""Liveness, readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import SystemDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(system: SystemDep, request: Request) -> JSONResponse:
    """Readiness: the database answers, the keys unwrap the stored data keys, tokens can
    be verified (the identity provider's keys are at hand), and the read models are
    within `SEQUESTER_READINESS_MAX_LAG` events of the log."""
    try:
        system.staff.position()
        system.keyring.verify()
        lag = system.projection_lag()
    except Exception:  # noqa: BLE001 - any failure here means "not ready", never a stack trace
        return JSONResponse({"status": "unavailable"}, status_code=503)
    problem = request.app.state.verifier.keys.problem()
    if problem is not None:
        return JSONResponse({"status": "unavailable", "identity_provider": problem},
                            status_code=503)
    if lag > system.settings.readiness_max_lag:
        return JSONResponse({"status": "catching_up", "projection_lag": lag}, status_code=503)
    return JSONResponse({"status": "ready", "projection_lag": lag})


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text: requests and latencies by route, decisions by rule, projection lag."""
    return Response(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
