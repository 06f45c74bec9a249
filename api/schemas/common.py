"""Shapes shared by every resource."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Identifiers in paths and bodies: short, printable, no path separators.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
PSEUDONYM_PATTERN = r"^SQ-[0-9A-Z]{4}-[0-9A-Z]{4}$"


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Written(BaseModel):
    position: int = Field(description="Log position of the write; pass ?after= to read it back")


class ErrorBody(BaseModel):
    error: str
    detail: object
