"""Liveness, readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SystemDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(system: SystemDep) -> JSONResponse:
    """Readiness: the database answers and the keys unwrap the stored data keys."""
    try:
        system.staff.position()
        system.keyring.verify()
    except Exception:  # any failure here means "not ready", never a stack trace
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})
