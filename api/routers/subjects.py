"""Sequestered subjects: the Director's office enrols, lists (no names), resolves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from api import audit
from api.auth import Principal
from api.deps import SystemDep, require
from api.schemas.common import PSEUDONYM_PATTERN, Written
from api.schemas.subjects import (
    ClinicianCreate,
    GroupCreate,
    Identity,
    Label,
    Resolve,
    SubjectCreate,
    SubjectCreated,
    SubjectPage,
    SubjectPublic,
)

router = APIRouter(prefix="/subjects", tags=["subjects"])
Pseudonym = Annotated[str, Path(pattern=PSEUDONYM_PATTERN)]
Director = Annotated[Principal, Depends(require("director"))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubjectCreated)
def enrol(
    body: SubjectCreate, system: SystemDep, principal: Director, response: Response
) -> SubjectCreated:
    """Enrol a person whose chart must be sequestered; returns only the new pseudonym.
    The legal name and birth date are kept in the Director's office directory."""
    enrolled_on = body.enrolled_on or datetime.now(UTC).date()
    if body.staff_id is not None:
        system.staff.get(body.staff_id)
    with audit.command("subject.enrol"):
        pseudonym, position = system.subjects.enrol(
            body.legal_name, body.birth_date, body.category, staff_id=body.staff_id,
            program_labels=body.program_labels, confidentiality=body.confidentiality,
            enrolled_on=enrolled_on,
        )
    subject = system.subjects.get(pseudonym)
    position = system.charts.open(pseudonym, subject.id, enrolled_on)
    response.headers["Location"] = f"/subjects/{pseudonym}"
    return SubjectCreated(pseudonym=pseudonym, position=position)


@router.get("", response_model=SubjectPage)
def list_subjects(
    system: SystemDep,
    principal: Director,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SubjectPage:
    """Pseudonyms and security labels; never names."""
    pseudonyms = system.subjects.list_pseudonyms()
    page = pseudonyms[offset : offset + limit]
    audit.read(system, "subject.list")
    items = [_public(system, p) for p in page]
    more = offset + limit < len(pseudonyms)
    return SubjectPage(items=items, next_offset=offset + limit if more else None)


def _public(system: SystemDep, pseudonym: str) -> SubjectPublic:
    s = system.subjects.get(pseudonym)
    return SubjectPublic(pseudonym=s.pseudonym, category=s.category, labels=[Label.model_validate(label) for label in s.labels],
                         enrolled_on=s.enrolled_on)


@router.post("/{pseudonym}/resolve", response_model=Identity)
def resolve(pseudonym: Pseudonym, body: Resolve, system: SystemDep, principal: Director) -> Identity:
    """Resolve a pseudonym to the legal identity (Director's office only, with a reason
    that the audit trail keeps)."""
    audit.this_request().justification = body.reason
    identity = system.subjects.resolve(pseudonym, body.reason, principal.roles)
    audit.read(system, "subject.resolve", pseudonym)
    return Identity(**identity)


@router.post("/{pseudonym}/groups", status_code=status.HTTP_201_CREATED, response_model=Written)
def add_group(pseudonym: Pseudonym, body: GroupCreate, system: SystemDep, principal: Director) -> Written:
    """Record the subject's participation in a group as a service recipient."""
    with audit.command("subject.group", pseudonym):
        position = system.subjects.add_group(pseudonym, body.group_id, body.from_, body.to)
    return Written(position=position)


@router.post("/{pseudonym}/clinicians", status_code=status.HTTP_201_CREATED, response_model=Written)
def assign_clinician(
    pseudonym: Pseudonym, body: ClinicianCreate, system: SystemDep, principal: Director
) -> Written:
    """Assign a clinician; refused if the clinician supervises the employee-client."""
    system.staff.get(body.staff_id)
    links = {system.subjects.link_of(s) for s in system.staff.supervisees(body.staff_id)}
    with audit.command("subject.clinician", pseudonym):
        position = system.subjects.assign_clinician(pseudonym, body.staff_id, links)
    return Written(position=position)
