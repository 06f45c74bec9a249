"""A sequestered chart: its entries, closing and reopening.

The note is returned only to a reader the access decision allows, after the read's
audit record is stored; it never appears in an error.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.access import Purpose
from api.schemas.common import Strict, Written


class EntryCreate(Strict):
    activity_type: str = Field(min_length=1, max_length=64, description="From the catalogue")
    service_code: str | None = Field(default=None, max_length=64)
    service_date: date
    note: str = Field(min_length=1, max_length=20_000)
    corrects: uuid.UUID | None = Field(default=None, description="The entry this one corrects")
    purpose: Purpose = "TREAT"


class EntryCreated(Written):
    entry_id: uuid.UUID


class ChartClose(Strict):
    closed_on: date
    purpose: Purpose = "TREAT"


class ChartReopen(Strict):
    reopened_on: date
    reason: str = Field(min_length=3, max_length=500)
    purpose: Purpose = "TREAT"


class EntryPublic(BaseModel):
    entry_id: uuid.UUID
    author: str
    activity_type: str
    service_code: str | None
    service_date: date
    note: str
    recorded_at: datetime
    corrects: uuid.UUID | None


class Closure(BaseModel):
    closed_on: date
    reopened_on: date | None


class AccessBasis(BaseModel):
    """The rule that let this read happen; break-glass reads are flagged."""

    rule: str
    purpose: str
    grant_id: str | None
    break_glass: bool
    break_glass_id: str | None


class ChartPublic(BaseModel):
    pseudonym: str
    status: Literal["open", "closed"]
    opened_on: date
    closed_on: date | None
    closures: list[Closure]
    entries: list[EntryPublic] = Field(description="Current entries: corrected ones are left out")
    access: AccessBasis
