"""Shapes shared by every resource."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from domain.staff.ids import DESCRIPTION, MAX_STAFF_ID, STAFF_ID_PATTERN, canonical_form

#: Identifiers in paths and bodies: short, printable, no path separators.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_canonical = AfterValidator(canonical_form)
#: A staff id in a body (`domain.staff.ids`): the formats providers issue, emails in
#: lower case (percent-encode it in a path: `/staff/alice%40agency.example`).
StaffIdField = Annotated[str, Field(pattern=STAFF_ID_PATTERN, max_length=MAX_STAFF_ID,
                                    description=f"A staff id: {DESCRIPTION}"), _canonical]
StaffIdPath = Annotated[str, Path(pattern=STAFF_ID_PATTERN, max_length=MAX_STAFF_ID,
                                  description=f"A staff id: {DESCRIPTION}"), _canonical]
StaffIdQuery = Annotated[str | None, Query(pattern=STAFF_ID_PATTERN, max_length=MAX_STAFF_ID),
                         AfterValidator(lambda v: None if v is None else canonical_form(v))]
PSEUDONYM_PATTERN = r"^SQ-[0-9A-Z]{4}-[0-9A-Z]{4}$"


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a typo is an error, not a silent no-op.
    No string may hold a NUL character: PostgreSQL text cannot store one, so it would
    be accepted into the log and then stop a read model on that event for good."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if _holds_nul(value):
            raise ValueError(f"{info.field_name} must not contain a NUL character (\\u0000)")
        return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


class Written(BaseModel):
    position: int = Field(description="Log position of the write; pass ?after= to read it back")


class ErrorBody(BaseModel):
    error: str
    detail: object
