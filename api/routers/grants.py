"""Routes under /grants (to be filled in)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/grants", tags=["grants"])
