"""Grants, break-glass and their review: request and response shapes.

Purposes of use are the HL7 v3 PurposeOfUse codes of `domain.access.policy.PURPOSES`
(a test keeps the two equal). Free text (a justification, a break-glass reason, review
notes) is accepted here and kept in the encrypted events; it is never echoed in errors.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas.common import PSEUDONYM_PATTERN, StaffIdField, Strict, Written

Purpose = Literal[
    "TREAT", "ETREAT", "BTG", "CAREMGT", "COC", "HOPERAT", "HPAYMT", "HLEGAL", "HCOMPL"
]
EmergencyPurpose = Literal["ETREAT", "BTG"]
Scope = Literal["read", "write"]
GrantStatus = Literal["pending", "live", "expired", "declined", "revoked"]


class GrantCreate(Strict):
    grantee: StaffIdField = Field(description="The staff id given access")
    pseudonym: str = Field(pattern=PSEUDONYM_PATTERN)
    scope: Scope = Field(description="`write` implies `read`")
    purpose: Purpose = Field(description="Emergency purposes are reached by break-glass only")
    expires_at: AwareDatetime
    justification: str = Field(min_length=3, max_length=1000)


class GrantCreated(Written):
    grant_id: uuid.UUID


class GrantRevoke(Strict):
    reason: str = Field(min_length=3, max_length=500)


class GrantSummary(BaseModel):
    """A grant as the privacy officer's list shows it (no justification)."""

    grant_id: uuid.UUID
    grantee: str
    pseudonym: str
    scope: str
    purpose: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    confirmed_at: datetime | None = Field(
        description="When the Director's office confirmed it: a grant counts only from then"
    )
    declined_at: datetime | None = Field(
        description="When the Director's office declined it (no reason is given here)"
    )
    status: GrantStatus


class GrantPublic(GrantSummary):
    """One grant in full, for the privacy officer."""

    justification: str
    revoked_by: str | None
    revocation_reason: str | None


class GrantDecline(Strict):
    reason: str = Field(
        default="", max_length=500,
        description="For the Director's office's own record; never shown to anyone else",
    )


class ConfirmationItem(GrantSummary):
    """A grant before the Director's office: pending confirmation, or confirmed and now
    forbidden by a rule resting on the staff↔client link (`review`)."""

    justification: str
    queue: Literal["pending", "review"]
    link_rule: str | None = Field(description="The link rule that forbids it, if any")


class ConfirmationPage(BaseModel):
    items: list[ConfirmationItem]
    next_offset: int | None


class GrantPage(BaseModel):
    items: list[GrantSummary]
    next_offset: int | None


class BreakGlassCreate(Strict):
    purpose: EmergencyPurpose
    reason: str = Field(min_length=3, max_length=1000)


class BreakGlassCreated(Written):
    break_glass_id: uuid.UUID
    expires_at: datetime


class BreakGlassItem(BaseModel):
    """One use of break-glass in the privacy officer's queue (the reason is in the detail)."""

    break_glass_id: uuid.UUID
    clinician: str
    pseudonym: str
    purpose: str
    invoked_at: datetime
    expires_at: datetime
    reviewed: bool
    outcome: str | None


class BreakGlassPage(BaseModel):
    items: list[BreakGlassItem]
    next_offset: int | None


class BreakGlassPublic(BreakGlassItem):
    """One use in full, for its review."""

    reason: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_notes: str | None


class BlockLift(Strict):
    reason: str = Field(min_length=3, max_length=500)


class BreakGlassReview(Strict):
    outcome: Literal["appropriate", "inappropriate"]
    notes: str = Field(
        default="", max_length=2000, description="Required when the use was inappropriate"
    )
