from __future__ import annotations

from datetime import date
from enum import Enum

from pydantic import BaseModel, Field

from api.schemas.common import StaffIdField, Strict, Written
from domain.staff.aggregate import ROLES
from domain.staff.jobs import CATALOGUE

JobTitle = Enum("JobTitle", {code: code for code in sorted(CATALOGUE)}, type=str)  # type: ignore[misc]
Role = Enum("Role", {role: role for role in sorted(ROLES)}, type=str)  # type: ignore[misc]


class StaffCreate(Strict):
    staff_id: StaffIdField
    display_name: str = Field(min_length=1, max_length=200)
    job_title: JobTitle
    roles: list[Role] = Field(min_length=1, max_length=9)
    supervisor_id: StaffIdField | None = None
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


class RolesChange(Strict):
    roles: list[Role] = Field(min_length=1, max_length=9,
                              description="The member's roles from now on (all of them)")


class RolesChanged(Written):
    roles: list[str]


class SeparationCreate(Strict):
    separated_on: date = Field(description="The first day off staff (today at the latest): "
                                           "from this day the member holds no role")
    reason: str = Field(min_length=1, max_length=500)
