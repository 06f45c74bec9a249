"""Accommodation requests (ADA) [seed: Reasonable accommodations II.B–F]: only the employee
files; the interactive discussion is recorded; hr grants, or denies stating the undue
hardship; the employee may decline. The file is medical: the condition and the notes go
to the employee and hr only, a supervisor sees the accommodation (29 CFR 1630.14), and
neither ever appears in an error, a log line or an audit record (those name ids only).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from api import audit
from api.auth import Principal
from api.deps import PrincipalDep, SystemDep, require
from api.schemas.accommodations import (
    AccommodationCreate,
    AccommodationCreated,
    AccommodationFile,
    AccommodationSummary,
    AccommodationView,
    DecisionCreate,
    DeclineCreate,
    NoteCreate,
)
from api.schemas.common import Written
from domain.errors import InvalidInput

router = APIRouter(prefix="/accommodations", tags=["accommodations"])
RequestId = Annotated[uuid.UUID, Path(description="The id returned when the request was filed")]
HR = Annotated[Principal, Depends(require("hr"))]




@router.post("", status_code=status.HTTP_201_CREATED, response_model=AccommodationCreated)
def file_request(
    body: AccommodationCreate, system: SystemDep, principal: PrincipalDep, response: Response
) -> AccommodationCreated:
    """The employee discloses a condition and requests an accommodation [II.B–C]. Nobody
    files for someone else: an `employee_id` other than the caller's is refused (422)."""
    employee_id = body.employee_id or principal.staff_id
    today = datetime.now(UTC).date()
    with audit.command("accommodation.file", employee_id):
        if body.filed_on is not None and body.filed_on > today:
            raise InvalidInput(f"filed_on {body.filed_on} is after today ({today})")
        request_id, position = system.accommodations.file(
            principal.staff_id, employee_id, body.condition, body.requested,
            body.functions_affected, body.filed_on or today,
        )
    response.headers["Location"] = f"/accommodations/{request_id}"
    return AccommodationCreated(request_id=request_id, position=position)


@router.get("/{request_id}", response_model=AccommodationView)
def get_request(
    request_id: RequestId, system: SystemDep, principal: PrincipalDep
) -> AccommodationFile | AccommodationSummary:
    """The request as its reader may see it: the employee its own file (`view: employee`),
    hr the whole file (`view: hr`), the employee's supervisor the accommodation only
    (`view: supervisor`, no condition, no discussion); anyone else 403, whether or not
    the id names a request."""
    record = audit.this_request()
    record.action, record.target = "accommodation.read", str(request_id)
    viewer, view = system.accommodations.view(
        request_id, principal.staff_id, sorted(principal.roles),
        supervisor_of=lambda employee: system.staff.get(employee).supervisor_id,
    )
    audit.read(system, "accommodation.read", str(request_id), rule=viewer)
    if viewer == "supervisor":
        return AccommodationSummary.model_validate(view)
    return AccommodationFile.model_validate({**view, "view": viewer})


@router.post("/{request_id}/notes", status_code=status.HTTP_201_CREATED, response_model=Written)
def add_note(
    request_id: RequestId, body: NoteCreate, system: SystemDep, principal: PrincipalDep
) -> Written:
    """A note of the interactive discussion [II.D], by hr or the employee."""
    with audit.command("accommodation.note", str(request_id)):
        position = system.accommodations.add_note(
            request_id, principal.staff_id, sorted(principal.roles), body.text
        )
    return Written(position=position)


@router.post("/{request_id}/decision", status_code=status.HTTP_201_CREATED, response_model=Written)
def decide(
    request_id: RequestId, body: DecisionCreate, system: SystemDep, principal: HR
) -> Written:
    """hr grants an accommodation (which may differ from the one asked for) from
    `effective_on`, or denies it stating the undue hardship [II.E]; a denial without one
    is refused (422 `denial_requires_undue_hardship`)."""
    apps, roles = system.accommodations, sorted(principal.roles)
    with audit.command(f"accommodation.{body.outcome}", str(request_id)):
        if body.outcome == "grant":
            assert body.accommodation is not None and body.effective_on is not None  # schema
            position = apps.grant(
                request_id, principal.staff_id, roles, body.accommodation, body.effective_on
            )
        else:
            position = apps.deny(request_id, principal.staff_id, roles, body.undue_hardship or "")
    return Written(position=position)


@router.post("/{request_id}/decline", response_model=Written)
def decline(
    request_id: RequestId, body: DeclineCreate, system: SystemDep, principal: PrincipalDep
) -> Written:
    """The employee declines the accommodation offered or granted [II.F]; `accommodation`
    (default: the current one) guards against declining a stale offer."""
    with audit.command("accommodation.decline", str(request_id)):
        position = system.accommodations.decline(
            request_id, principal.staff_id, body.accommodation, body.reason
        )
    return Written(position=position)
