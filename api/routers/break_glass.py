"""Routes under /break-glass (to be filled in)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/break-glass", tags=["break-glass"])
