"""The web application factory: `create_app(settings)`; nothing built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ops.bootstrap import System, build
from ops.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.system = build(settings)
        try:
            yield
        finally:
            app.state.system.close()

    app = FastAPI(title="sequester", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the database answers and the keys unwrap the stored data keys."""
        system: System = request.app.state.system
        try:
            system.staff.position()
            system.keyring.verify()
        except Exception:  # any failure here means "not ready", never a stack trace
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app
