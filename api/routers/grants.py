"""Chart access grants: the privacy officer grants, lists and revokes; the Director's
office confirms or declines (dual control).

A grant is written with the ledger the decision point reads, and counts from the moment
the Director's office's confirmation commits (a revocation or decline stops it counting
at once). Only the Director's office sees whether a grantee is linked to the subject:
its queue names the link rule that forbids a grant, and a decline tells others no
reason. The lists come from the `effective_access` read model (pass `?after=<position>`
to see a write); without read models (the in-memory backend) the same fold runs over
the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Response, status

from api import audit
from api.auth import Principal
from api.deps import SystemDep, require
from api.schemas.access import (
    ConfirmationItem,
    ConfirmationPage,
    GrantCreate,
    GrantCreated,
    GrantDecline,
    GrantPage,
    GrantPublic,
    GrantRevoke,
    GrantSummary,
)
from api.schemas.common import PSEUDONYM_PATTERN, StaffIdQuery, Written
from domain.access.grants import Grant
from domain.access.policy import GrantFact
from domain.errors import NotFound
from ops.bootstrap import System
from projections.base import FoldProjection, Row
from projections.effective_access import EffectiveAccess
from projections.tables import Db

router = APIRouter(prefix="/grants", tags=["grants"])
PrivacyOfficer = Annotated[Principal, Depends(require("privacy_officer"))]
Director = Annotated[Principal, Depends(require("director"))]
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


def row_fact(row: Row) -> GrantFact:
    return GrantFact(str(row["grant_id"]), row["scope"], row["purpose"], row["expires_at"],
                     row["revoked_at"], row["confirmed_at"], row["declined_at"])


def summary(row: Row, now: datetime) -> GrantSummary:
    fields = {k: row[k] for k in GrantSummary.model_fields if k != "status"}
    return GrantSummary(**fields, status=row_fact(row).status(now))  # type: ignore[arg-type]


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
    items = [summary(r, now) for r in page]
    more = offset + limit < len(rows)
    return GrantPage(items=items, next_offset=offset + limit if more else None)


@router.get("/confirmations", response_model=ConfirmationPage)
def confirmations(
    system: SystemDep,
    principal: Director,
    queue: Annotated[Literal["pending", "review", "all"], Query()] = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int | None, Query(ge=0, description="wait for this position")] = None,
) -> ConfirmationPage:
    """The Director's office's queue: grants waiting for confirmation (`pending`, each
    with the link rule that would refuse it, if any), and confirmed live grants that a
    link arising since forbids (`review`: decline them to end them)."""
    system.wait_for(after)
    now = datetime.now(UTC)
    items = []
    if queue in ("pending", "all"):
        items += [_item(system, r, now, "pending")
                  for r in view_rows(system, EffectiveAccess, lambda v, db: v.pending(db, now))
                  if row_fact(r).is_pending(now)]
    if queue in ("review", "all"):
        live = [r for r in view_rows(system, EffectiveAccess, lambda v, db: v.live(db, now))
                if row_fact(r).is_live(now)]
        items += [i for i in (_item(system, r, now, "review") for r in live) if i.link_rule]
    audit.read(system, "grant.confirmations")
    page = items[offset : offset + limit]
    return ConfirmationPage(items=page, next_offset=offset + limit if offset + limit < len(items)
                            else None)


def _item(system: System, row: Row, now: datetime, queue: Literal["pending", "review"]
          ) -> ConfirmationItem:
    denial = system.chart_access.link_denial(row["grantee"], row["pseudonym"], row["purpose"],
                                             now.date())
    grant = load_grant(system, uuid.UUID(str(row["grant_id"])))
    return ConfirmationItem(**summary(row, now).model_dump(), justification=grant.justification,
                            queue=queue, link_rule=None if denial is None else denial.rule)


@router.get("/{grant_id}", response_model=GrantPublic)
def get_grant(grant_id: uuid.UUID, system: SystemDep, principal: PrivacyOfficer) -> GrantPublic:
    """One grant in full, justification and revocation included (read from the log)."""
    record = load_grant(system, grant_id)
    audit.read(system, "grant.read", str(grant_id))
    return GrantPublic(
        grant_id=record.id, grantee=record.grantee, pseudonym=record.pseudonym,
        scope=record.scope, purpose=record.purpose, granted_by=record.granted_by,
        granted_at=record.granted_at, expires_at=record.expires_at, revoked_at=record.revoked_at,
        confirmed_at=record.confirmed_at, declined_at=record.declined_at,
        status=record.status(datetime.now(UTC)),  # type: ignore[arg-type]
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


@router.post("/{grant_id}/confirm", response_model=Written)
def confirm(grant_id: uuid.UUID, system: SystemDep, principal: Director) -> Written:
    """The Director's office confirms a pending grant: it counts from now. Refused while
    a rule resting on the staff↔client link forbids the grantee this access."""
    grant = load_grant(system, grant_id)
    now = datetime.now(UTC)
    with audit.command("grant.confirm", str(grant_id)):
        denial = system.chart_access.link_denial(grant.grantee, grant.pseudonym, grant.purpose,
                                                 now.date())
        position = system.access.confirm(grant_id, principal.staff_id, now, denial,
                                         actor_roles=principal.roles)
    return Written(position=position)


@router.post("/{grant_id}/decline", response_model=Written)
def decline(grant_id: uuid.UUID, system: SystemDep, principal: Director,
            body: GrantDecline | None = None) -> Written:
    """The Director's office declines a pending grant, or ends a confirmed one it
    reviews. Final; the reason (optional) is the Director's office's alone."""
    load_grant(system, grant_id)
    with audit.command("grant.decline", str(grant_id)):
        position = system.access.decline(grant_id, principal.staff_id,
                                         body.reason if body else "", datetime.now(UTC),
                                         actor_roles=principal.roles)
    return Written(position=position)
