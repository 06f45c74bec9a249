from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import ID_PATTERN, StaffIdField, Strict, Written

Category = Literal["employee", "employee_relative", "public_figure", "public_figure_relative"]


class SubjectCreate(Strict):
    legal_name: str = Field(min_length=1, max_length=200)
    birth_date: date
    category: Category
    staff_id: StaffIdField | None = None
    program_labels: list[Literal["PSY", "ETH", "SUD", "42CFRPart2"]] = Field(default_factory=list)
    confidentiality: Literal["R", "V"] = "R"
    enrolled_on: date | None = None


class SubjectCreated(Written):
    pseudonym: str


class Label(BaseModel):
    system: str
    code: str


class SubjectPublic(BaseModel):
    pseudonym: str
    category: str
    labels: list[Label]
    enrolled_on: date


class SubjectPage(BaseModel):
    items: list[SubjectPublic]
    next_offset: int | None


class Resolve(Strict):
    reason: str = Field(min_length=3, max_length=500)


class Identity(BaseModel):
    pseudonym: str
    legal_name: str
    birth_date: date
    category: str


class GroupCreate(Strict):
    group_id: str = Field(pattern=ID_PATTERN)
    from_: date = Field(alias="from")
    to: date | None = None


class ClinicianCreate(Strict):
    staff_id: StaffIdField
