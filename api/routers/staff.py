"""Staff members: hired by HR or the Director's office; agreements recorded by HR."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from api import audit
from api.auth import Principal
from api.deps import PrincipalDep, SystemDep, require
from api.schemas.common import ID_PATTERN, Written
from api.schemas.staff import Agreement, AgreementCreate, StaffCreate, StaffCreated, StaffPublic
from domain.errors import PermissionDenied

router = APIRouter(prefix="/staff", tags=["staff"])
StaffId = Annotated[str, Path(pattern=ID_PATTERN)]
HR = Annotated[Principal, Depends(require("hr", "director"))]
READERS = frozenset({"hr", "director", "manager", "privacy_officer"})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StaffCreated)
def hire(body: StaffCreate, system: SystemDep, principal: HR, response: Response) -> StaffCreated:
    """Hire a staff member into a job title from the catalogue."""
    with audit.command("staff.create", body.staff_id):
        position = system.staff.hire(
            body.staff_id, body.display_name, body.job_title.value,
            [r.value for r in body.roles], body.hired_on,
            supervisor_id=body.supervisor_id,
        )
    response.headers["Location"] = f"/staff/{body.staff_id}"
    return StaffCreated(staff_id=body.staff_id, position=position)


@router.get("/{staff_id}", response_model=StaffPublic)
def get_staff(staff_id: StaffId, system: SystemDep, principal: PrincipalDep) -> StaffPublic:
    """A staff record: for HR, the Director's office, managers, privacy officers, or oneself."""
    if principal.staff_id != staff_id and not principal.roles & READERS:
        raise PermissionDenied("role", "staff records are for HR, management or the person")
    member = system.staff.get(staff_id)
    audit.read(system, "staff.read", staff_id)
    return StaffPublic(
        staff_id=member.staff_id, display_name=member.display_name, job_title=member.job_title,
        charts=member.charts, roles=member.roles, supervisor_id=member.supervisor_id,
        hired_on=member.hired_on, separated_on=member.separated_on, agreements=[Agreement.model_validate(a) for a in member.agreements],
    )


@router.post(
    "/{staff_id}/confidentiality-agreements",
    status_code=status.HTTP_201_CREATED,
    response_model=Written,
)
def sign_agreement(
    staff_id: StaffId, body: AgreementCreate, system: SystemDep, principal: HR
) -> Written:
    """Record a signed confidentiality agreement [seed: Confidentiality I.A]."""
    with audit.command("staff.agreement", staff_id):
        position = system.staff.sign_agreement(staff_id, body.version, body.signed_on)
    return Written(position=position)
