"""Routes under /dual-relationships (to be filled in)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/dual-relationships", tags=["dual-relationships"])
