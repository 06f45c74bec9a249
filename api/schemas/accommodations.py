"""Accommodation requests (ADA): the employee's request, hr's decision, and the two views
of the confidential file — the whole file (employee, hr) and the accommodation alone
(the employee's supervisor: no condition, 29 CFR 1630.14)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import StaffIdField, Strict, Written


class AccommodationCreate(Strict):
    condition: str = Field(min_length=1, max_length=4_000,
                           description="The disclosed condition: kept in the medical file")
    requested: str = Field(min_length=1, max_length=2_000)
    functions_affected: str | None = Field(default=None, max_length=2_000)
    filed_on: date | None = Field(default=None, description="Default: today")
    employee_id: StaffIdField | None = Field(
        default=None,
        description="Always the caller: only the employee files its own request",
    )


class AccommodationCreated(Written):
    request_id: UUID


class NoteCreate(Strict):
    text: str = Field(min_length=1, max_length=10_000)


class DecisionCreate(Strict):
    """`grant` with the agreed `accommodation` and `effective_on`, or `deny` stating the
    `undue_hardship` (a denial without it breaks a rule: 422)."""

    outcome: Literal["grant", "deny"]
    accommodation: str | None = Field(default=None, min_length=1, max_length=2_000)
    effective_on: date | None = None
    undue_hardship: str | None = Field(default=None, max_length=4_000)

    @model_validator(mode="after")
    def fields_fit_outcome(self) -> Self:
        if self.outcome == "grant" and (self.accommodation is None or self.effective_on is None):
            raise ValueError("a grant needs accommodation and effective_on")
        if self.outcome == "grant" and self.undue_hardship is not None:
            raise ValueError("a grant states no undue_hardship")
        if self.outcome == "deny" and (self.accommodation or self.effective_on):
            raise ValueError("a denial has no accommodation or effective_on")
        return self


class DeclineCreate(Strict):
    accommodation: str | None = Field(
        default=None, max_length=2_000,
        description="The offered or granted accommodation declined; default: the current one",
    )
    reason: str = Field(default="", max_length=2_000, description="Optional [II.F]")


class Note(BaseModel):
    author: str
    role: str
    text: str
    at: datetime


class Offer(BaseModel):
    accommodation: str
    offered_by: str
    at: datetime


class Decision(BaseModel):
    outcome: str
    accommodation: str | None
    effective_on: date | None
    undue_hardship: str | None
    decided_by: str
    at: datetime


class Decline(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    accommodation: str
    reason: str
    from_: str = Field(alias="from", serialization_alias="from")
    at: datetime


class AccommodationSummary(BaseModel):
    """What the employee's supervisor sees: the accommodation to put in place."""

    view: Literal["supervisor"] = "supervisor"
    request_id: UUID
    employee_id: str
    status: str
    requested: str
    accommodation: str | None
    effective_on: date | None


class AccommodationFile(BaseModel):
    """The confidential file: the employee's own (its notes) or hr's (every note)."""

    view: Literal["employee", "hr"]
    request_id: UUID
    employee_id: str
    status: str
    requested: str
    accommodation: str | None
    effective_on: date | None
    condition: str
    functions_affected: str | None
    filed_on: date
    notes: list[Note]
    offers: list[Offer]
    decision: Decision | None
    declines: list[Decline]


AccommodationView = Annotated[
    AccommodationFile | AccommodationSummary, Field(discriminator="view")
]
