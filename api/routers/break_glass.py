"""The privacy officer's review of emergency access (HIPAA 164.312(a)(2)(ii)).

Clinicians invoke break-glass at `POST /charts/{pseudonym}/break-glass`. The queue
comes from the `break_glass_queue` read model (pass `?after=<position>` to see a
write); without read models (the in-memory backend) the same fold runs over the log.
A use's reason and its review notes are free text: they are shown in the detail,
read from the log, and never listed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api import audit
from api.auth import Principal
from api.deps import SystemDep, require
from api.routers.grants import view_rows
from api.schemas.access import (
    BlockLift,
    BreakGlassItem,
    BreakGlassPage,
    BreakGlassPublic,
    BreakGlassReview,
)
from api.schemas.common import ID_PATTERN, Written
from domain.access.grants import BreakGlass
from domain.errors import NotFound
from ops.bootstrap import System
from projections.base import Row
from projections.break_glass_queue import BreakGlassQueue

router = APIRouter(prefix="/break-glass", tags=["break-glass"])
PrivacyOfficer = Annotated[Principal, Depends(require("privacy_officer"))]


def load_use(system: System, break_glass_id: uuid.UUID) -> BreakGlass:
    """The use; an id of any other kind of record is as unknown as a missing one."""
    use = system.access.get_break_glass(break_glass_id)
    if not isinstance(use, BreakGlass):
        raise NotFound(f"break-glass {break_glass_id} does not exist")
    return use


def queue_rows(system: System, state: str) -> list[Row]:
    query = BreakGlassQueue.pending if state == "pending" else BreakGlassQueue.all
    rows = view_rows(system, BreakGlassQueue, query)
    if state != "all":
        rows = [r for r in rows if r["reviewed"] == (state == "reviewed")]
    return sorted(rows, key=lambda r: (r["invoked_at"], str(r["id"])))


def item(row: Row) -> BreakGlassItem:
    return BreakGlassItem(
        break_glass_id=row["id"], clinician=row["clinician"], pseudonym=row["pseudonym"],
        purpose=row["purpose"], invoked_at=row["invoked_at"], expires_at=row["expires_at"],
        reviewed=row["reviewed"], outcome=row["outcome"],
    )


@router.get("", response_model=BreakGlassPage)
def review_queue(
    system: SystemDep,
    principal: PrivacyOfficer,
    state: Annotated[Literal["pending", "reviewed", "all"], Query(alias="status")] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int | None, Query(ge=0, description="wait for this position")] = None,
) -> BreakGlassPage:
    """Uses of break-glass, oldest first; by default those not yet reviewed (the queue)."""
    system.wait_for(after)
    rows = queue_rows(system, state)
    page = rows[offset : offset + limit]
    audit.read(system, "break_glass.list")
    more = offset + limit < len(rows)
    return BreakGlassPage(items=[item(r) for r in page],
                          next_offset=offset + limit if more else None)


@router.get("/{break_glass_id}", response_model=BreakGlassPublic)
def get_use(break_glass_id: uuid.UUID, system: SystemDep,
            principal: PrivacyOfficer) -> BreakGlassPublic:
    """One use in full, with the clinician's reason and any review (read from the log)."""
    use = load_use(system, break_glass_id)
    audit.read(system, "break_glass.read", str(break_glass_id))
    return BreakGlassPublic(
        break_glass_id=use.id, clinician=use.clinician, pseudonym=use.pseudonym,
        purpose=use.purpose, invoked_at=use.invoked_at, expires_at=use.expires_at,
        reviewed=use.reviewed, outcome=use.review_outcome, reason=use.reason,
        reviewed_by=use.reviewed_by, reviewed_at=use.reviewed_at, review_notes=use.review_notes,
    )


@router.post("/{break_glass_id}/review", response_model=Written)
def review(break_glass_id: uuid.UUID, body: BreakGlassReview, system: SystemDep,
           principal: PrivacyOfficer) -> Written:
    """Record the one review of a use: appropriate, or inappropriate with notes saying why.
    A reviewer never reviews its own use. An inappropriate use ends at once, and its
    clinician cannot invoke break-glass again until the block is lifted."""
    load_use(system, break_glass_id)
    with audit.command("break_glass.review", str(break_glass_id)):
        position = system.access.review_break_glass(
            break_glass_id, principal.staff_id, body.outcome, body.notes, datetime.now(UTC),
            actor_roles=principal.roles,
        )
    return Written(position=position)


@router.post("/blocks/{staff_id}/lift", response_model=Written)
def lift_block(staff_id: Annotated[str, Path(pattern=ID_PATTERN)], body: BlockLift,
               system: SystemDep, principal: PrivacyOfficer) -> Written:
    """Let a clinician blocked after an inappropriate use invoke break-glass again."""
    with audit.command("break_glass.lift_block", staff_id):
        position = system.access.lift_block(staff_id, principal.staff_id, body.reason,
                                            datetime.now(UTC), actor_roles=principal.roles)
    return Written(position=position)
