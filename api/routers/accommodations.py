"""Routes under /accommodations (to be filled in)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/accommodations", tags=["accommodations"])
