"""Chart access grants: the privacy officer grants, lists and revokes.

A grant is written with the ledger the decision point reads, so it counts (and a
revocation stops counting) the moment it commits. The list comes from the
`effective_access` read model (pass `?after=<position>` to see a write); without read
models (the in-memory backend) the same fold runs over the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Response, status

from api import audit
from api.auth import Principal
from api.deps import SystemDep, require
from api.schemas.access import (
    GrantCreate,
    GrantCreated,
    GrantPage,
    GrantPublic,
    GrantRevoke,
    GrantStatus,
    GrantSummary,
)
from api.schemas.common import PSEUDONYM_PATTERN, StaffIdQuery, Written
from domain.access.grants import Grant
from domain.errors import NotFound
from ops.bootstrap import System
from projections.base import FoldProjection, Row
from projections.effective_access import EffectiveAccess
from projections.tables import Db

router = APIRouter(prefix="/grants", tags=["grants"])
PrivacyOfficer = Annotated[Principal, Depends(require("privacy_officer"))]
V = TypeVar("V", bound=FoldProjection)


def view_rows(system: System, kind: type[V], query: Callable[[V, Db], list[Row]]) -> list[Row]:
    """The rows of a read-model query; without read models (in memory), every row of the
    view's own fold over the log, for the caller to filter and order."""
    if system.projections is not None:
        view = next(p for p in system.projections.projections if isinstance(p, kind))
        return query(view, system.projections.db)
    scratch = kind()
    folded = scratch.fold_all(system.events(scratch.topics))
    return [r for r in folded.values() if r is not None]



def load_grant(system: System, grant_id: uuid.UUID) -> Grant:
    """The grant; an id of any other kind of record is as unknown as a missing one."""
    record = system.access.get_grant(grant_id)
    if not isinstance(record, Grant):
        raise NotFound(f"grant {grant_id} does not exist")
    return record


def grant_status(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> GrantStatus:
    if revoked_at is not None:
        return "revoked"
    return "live" if now < expires_at else "expired"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=GrantCreated)
def grant(body: GrantCreate, system: SystemDep, principal: PrivacyOfficer,
          response: Response) -> GrantCreated:
    """Give a staff member read or write access to one chart for one purpose of use,
    until an expiry, with a justification. Deny rules still win over it."""
    subject = system.subjects.get(body.pseudonym)
    system.staff.get(body.grantee)
    audit.this_request().purpose = body.purpose
    with audit.command("grant.create", body.pseudonym):
        grant_id, position = system.access.grant(
            body.grantee, body.pseudonym, subject.id, body.scope, body.purpose,
            body.expires_at, body.justification, principal.staff_id, datetime.now(UTC),
            actor_roles=principal.roles,
        )
    response.headers["Location"] = f"/grants/{grant_id}"
    return GrantCreated(grant_id=grant_id, position=position)


@router.get("", response_model=GrantPage)
def list_grants(
    system: SystemDep,
    principal: PrivacyOfficer,
    grantee: StaffIdQuery = None,
    pseudonym: Annotated[str | None, Query(pattern=PSEUDONYM_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int | None, Query(ge=0, description="wait for this position")] = None,
) -> GrantPage:
    """Grants in any state (live, expired, revoked), oldest first, by grantee and/or chart.
    Justifications are not listed; read one grant for its own."""
    system.wait_for(after)
    rows = [
        r for r in view_rows(system, EffectiveAccess, EffectiveAccess.grants)
        if grantee in (None, r["grantee"]) and pseudonym in (None, r["pseudonym"])
    ]
    rows.sort(key=lambda r: (r["granted_at"], str(r["grant_id"])))
    page = rows[offset : offset + limit]
    audit.read(system, "grant.list", pseudonym or grantee or "")
    now = datetime.now(UTC)
    items = [GrantSummary(**{k: r[k] for k in GrantSummary.model_fields if k != "status"},
                          status=grant_status(r["revoked_at"], r["expires_at"], now))
             for r in page]
    more = offset + limit < len(rows)
    return GrantPage(items=items, next_offset=offset + limit if more else None)


@router.get("/{grant_id}", response_model=GrantPublic)
def get_grant(grant_id: uuid.UUID, system: SystemDep, principal: PrivacyOfficer) -> GrantPublic:
    """One grant in full, justification and revocation included (read from the log)."""
    record = load_grant(system, grant_id)
    audit.read(system, "grant.read", str(grant_id))
    return GrantPublic(
        grant_id=record.id, grantee=record.grantee, pseudonym=record.pseudonym,
        scope=record.scope, purpose=record.purpose, granted_by=record.granted_by,
        granted_at=record.granted_at, expires_at=record.expires_at, revoked_at=record.revoked_at,
        status=grant_status(record.revoked_at, record.expires_at, datetime.now(UTC)),
        justification=record.justification, revoked_by=record.revoked_by,
        revocation_reason=record.revocation_reason,
    )


@router.post("/{grant_id}/revoke", response_model=Written)
def revoke(grant_id: uuid.UUID, body: GrantRevoke, system: SystemDep,
           principal: PrivacyOfficer) -> Written:
    """Revoke a grant, with a reason; final, and effective from its commit."""
    load_grant(system, grant_id)
    with audit.command("grant.revoke", str(grant_id)):
        position = system.access.revoke(
            grant_id, principal.staff_id, body.reason, datetime.now(UTC),
            actor_roles=principal.roles,
        )
    return Written(position=position)
