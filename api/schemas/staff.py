from __future__ import annotations

from datetime import date
from enum import Enum

from pydantic import BaseModel, Field

from api.schemas.common import ID_PATTERN, Strict, Written
from domain.staff.aggregate import ROLES
from domain.staff.jobs import CATALOGUE

JobTitle = Enum("JobTitle", {code: code for code in sorted(CATALOGUE)}, type=str)  # type: ignore[misc]
Role = Enum("Role", {role: role for role in sorted(ROLES)}, type=str)  # type: ignore[misc]


class StaffCreate(Strict):
    staff_id: str = Field(pattern=ID_PATTERN)
    display_name: str = Field(min_length=1, max_length=200)
    job_title: JobTitle
    roles: list[Role] = Field(min_length=1, max_length=9)
    supervisor_id: str | None = Field(default=None, pattern=ID_PATTERN)
    hired_on: date


class StaffCreated(Written):
    staff_id: str


class AgreementCreate(Strict):
    version: str = Field(min_length=1, max_length=32)
    signed_on: date


class Agreement(BaseModel):
    version: str
    signed_on: date


class StaffPublic(BaseModel):
    staff_id: str
    display_name: str
    job_title: str
    charts: bool
    roles: list[str]
    supervisor_id: str | None
    hired_on: date
    separated_on: date | None
    agreements: list[Agreement]
