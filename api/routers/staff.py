"""Staff members: hired by HR or the Director's office, each only into the roles it may
grant (`domain.staff.authority`); agreements recorded and separations by HR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response, status

from api import audit
from api.auth import Principal
from api.deps import PrincipalDep, SystemDep, require
from api.schemas.common import StaffIdPath, Written
from api.schemas.staff import (
    Agreement,
    AgreementCreate,
    RolesChange,
    RolesChanged,
    SeparationCreate,
    StaffCreate,
    StaffCreated,
    StaffPublic,
)
from domain.errors import PermissionDenied

router = APIRouter(prefix="/staff", tags=["staff"])
HR = Annotated[Principal, Depends(require("hr", "director"))]
HROnly = Annotated[Principal, Depends(require("hr"))]
READERS = frozenset({"hr", "director", "manager", "privacy_officer"})


def location(staff_id: str) -> str:
    return f"/staff/{quote(staff_id, safe='@')}"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StaffCreated)
def hire(body: StaffCreate, system: SystemDep, principal: HR, response: Response) -> StaffCreated:
    """Hire a staff member into a job title from the catalogue, with roles the hiring
    principal may grant (HR: hr, manager, clinician, peer_staff; the Director's office:
    any)."""
    with audit.command("staff.create", body.staff_id):
        position = system.staff.hire(
            body.staff_id, body.display_name, body.job_title.value,
            [r.value for r in body.roles], body.hired_on,
            supervisor_id=body.supervisor_id, granted_by=principal.roles,
        )
    response.headers["Location"] = location(body.staff_id)
    return StaffCreated(staff_id=body.staff_id, position=position)


@router.get("/{staff_id}", response_model=StaffPublic)
def get_staff(staff_id: StaffIdPath, system: SystemDep, principal: PrincipalDep) -> StaffPublic:
    """A staff record: for HR, the Director's office, managers, privacy officers, or oneself."""
    if principal.staff_id != staff_id and not principal.roles & READERS:
        raise PermissionDenied("role", "staff records are for HR, management or the person")
    member = system.staff.get(staff_id)
    audit.read(system, "staff.read", staff_id)
    return StaffPublic(
        staff_id=member.staff_id, display_name=member.display_name, job_title=member.job_title,
        charts=member.charts, roles=member.roles, supervisor_id=member.supervisor_id,
        hired_on=member.hired_on, separated_on=member.separated_on,
        agreements=[Agreement.model_validate(a) for a in member.agreements],
    )


@router.post(
    "/{staff_id}/confidentiality-agreements",
    status_code=status.HTTP_201_CREATED,
    response_model=Written,
)
def sign_agreement(
    staff_id: StaffIdPath, body: AgreementCreate, system: SystemDep, principal: HR
) -> Written:
    """Record a signed confidentiality agreement [seed: Confidentiality I.A]."""
    with audit.command("staff.agreement", staff_id):
        position = system.staff.sign_agreement(staff_id, body.version, body.signed_on)
    return Written(position=position)


@router.put("/{staff_id}/roles", response_model=RolesChanged)
def change_roles(
    staff_id: StaffIdPath, body: RolesChange, system: SystemDep, principal: HR
) -> RolesChanged:
    """Replace a member's roles. Every role added or removed must be one the principal
    may grant (rule `role_grant`); no one changes their own roles (`own_roles`), and the
    last director keeps `director` (`last_director`). Counts from the next request."""
    roles = sorted({r.value for r in body.roles})
    with audit.command("staff.roles", staff_id):
        position = system.staff.assign_roles(staff_id, roles, principal.staff_id,
                                             principal.roles)
    return RolesChanged(position=position, roles=roles)


@router.post("/{staff_id}/separation", response_model=Written)
def separate(
    staff_id: StaffIdPath, body: SeparationCreate, system: SystemDep, principal: HROnly
) -> Written:
    """Record a separation (HR). From `separated_on` (today at the latest) the member
    holds no role: its next request is refused (rule `separated`)."""
    with audit.command("staff.separation", staff_id):
        position = system.staff.separate(staff_id, body.separated_on, body.reason,
                                         datetime.now(UTC).date())
    return Written(position=position)
