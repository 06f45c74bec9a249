"""Careers [seed: Job titles; Professional credentialing — CRSS; Medicaid billing; Staff
training]: the job catalogue, CRSS progress, Rule 132 qualifications, CST/ACT teams and
trainings.

HR and the Director's office write and read everything; a staff member reads its own
records, and its supervisor reads them too; a team is read by HR, the Director's office
and its members. Nothing here names a pseudonym or says who is also a client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from api import audit
from api.auth import Principal
from api.deps import PrincipalDep, SystemDep, require
from api.schemas import careers as schema
from api.schemas.common import ID_PATTERN, StaffIdPath, Written
from domain.errors import PermissionDenied
from domain.staff.jobs import CATALOGUE
from domain.staff.teams import Team
from ops.bootstrap import System

router = APIRouter(tags=["careers"])
StaffId = StaffIdPath
TeamId = Annotated[str, Path(pattern=ID_PATTERN)]
Number = Annotated[int, Path(ge=0, le=999, description="0-based, as returned when recorded")]
AsOf = Annotated[date | None, Query(description="The day to read as of; default today")]
HR = Annotated[Principal, Depends(require("hr", "director"))]
SEE_ALL = frozenset({"hr", "director"})
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _created(path: str) -> Decorator:
    """A write answering 201 with its log position."""
    return router.post(path, status_code=status.HTTP_201_CREATED, response_model=Written)


def _today() -> date:
    return datetime.now(UTC).date()


def _write(action: str, target: str, command: Callable[[], int]) -> Written:
    with audit.command(action, target):
        position = command()
    return Written(position=position)


def _reader(system: System, principal: Principal, action: str, staff_id: str) -> str:
    """Why the caller may read this member's records: its role, itself, or as the member's
    supervisor (from the roster: an unknown id reads as refused, not as missing)."""
    record = audit.this_request()
    record.action, record.target = action, staff_id
    if principal.roles & SEE_ALL:
        return "role"
    if principal.staff_id == staff_id:
        return "self"
    if staff_id in system.staff.supervisees(principal.staff_id):
        return "supervisor"
    raise PermissionDenied(
        "career_records", "career records are read by HR, the Director's office, the "
        "staff member or its supervisor",
    )


@router.get("/jobs", response_model=list[schema.JobPublic])
def jobs(system: SystemDep, principal: PrincipalDep) -> list[schema.JobPublic]:
    """The job catalogue: responsibilities, qualification basis, charting, career paths."""
    audit.read(system, "jobs.list")
    return [schema.JobPublic.model_validate(title) for title in CATALOGUE.values()]


# -- CRSS ---------------------------------------------------------------------------------
@_created("/staff/{staff_id}/credentials")
def start_crss(
    staff_id: StaffId, body: schema.CrssStart, system: SystemDep, principal: HR, response: Response
) -> Written:
    """Open a staff member's CRSS record (one per staff member)."""
    written = _write("crss.start", staff_id,
                     lambda: system.careers.start_crss(staff_id, body.started_on))
    response.headers["Location"] = f"/staff/{staff_id}/credentials"
    return written


@router.get("/staff/{staff_id}/credentials", response_model=schema.CrssProgressPublic)
def crss_progress(
    staff_id: StaffId, system: SystemDep, principal: PrincipalDep, as_of: AsOf = None
) -> schema.CrssProgressPublic:
    """CRSS progress on `as_of`: each requirement met or what remains, the stage, and
    flags for what is due or overdue (renewal, CEUs, the next step)."""
    rule = _reader(system, principal, "crss.read", staff_id)
    progress = system.careers.progress(staff_id, as_of or _today())
    audit.read(system, "crss.read", staff_id, rule=rule)
    return schema.CrssProgressPublic.model_validate(progress)


@_created("/staff/{staff_id}/credentials/education")
def record_education(
    staff_id: StaffId, body: schema.EducationCreate, system: SystemDep, principal: HR
) -> Written:
    """The high school diploma or GED [III.A]."""
    return _write("crss.education", staff_id, lambda: system.careers.record_education(
        staff_id, body.kind, body.completed_on))


@_created("/staff/{staff_id}/credentials/hours")
def log_hours(
    staff_id: StaffId, body: schema.HoursCreate, system: SystemDep, principal: HR
) -> Written:
    """Work (paid or volunteer), supervision (by performance domain) or training hours."""
    return _write("crss.hours", staff_id, lambda: system.careers.log_hours(
        staff_id, body.category, body.hours, body.on, body.domain, body.paid))


@_created("/staff/{staff_id}/credentials/application")
def submit_application(
    staff_id: StaffId, body: schema.ApplicationCreate, system: SystemDep, principal: HR
) -> Written:
    """The application to the ICB, once the requirements are met (else 409, naming them)."""
    return _write("crss.application", staff_id,
                  lambda: system.careers.submit_application(staff_id, body.submitted_on))


@_created("/staff/{staff_id}/credentials/exam")
def record_exam(
    staff_id: StaffId, body: schema.ExamCreate, system: SystemDep, principal: HR
) -> Written:
    """An attempt at the written exam, after the application."""
    return _write("crss.exam", staff_id,
                  lambda: system.careers.record_exam(staff_id, body.taken_on, body.passed))


@_created("/staff/{staff_id}/credentials/grant")
def grant_crss(
    staff_id: StaffId, body: schema.GrantCreate, system: SystemDep, principal: HR
) -> Written:
    """The credential granted, after a passed exam."""
    return _write("crss.grant", staff_id,
                  lambda: system.careers.grant_crss(staff_id, body.granted_on))


@_created("/staff/{staff_id}/credentials/renewals")
def renew_crss(
    staff_id: StaffId, body: schema.RenewalCreate, system: SystemDep, principal: HR
) -> Written:
    """The annual renewal; the one closing a two-year cycle needs its 40 CEU hours (422)."""
    return _write("crss.renew", staff_id,
                  lambda: system.careers.renew_crss(staff_id, body.renewed_on))


@_created("/staff/{staff_id}/credentials/ceus")
def log_ceus(
    staff_id: StaffId, body: schema.CeuCreate, system: SystemDep, principal: HR
) -> Written:
    """Continuing education hours, once the credential is granted."""
    return _write("crss.ceus", staff_id, lambda: system.careers.log_hours(
        staff_id, "ceu", body.hours, body.completed_on))


# -- Rule 132 -----------------------------------------------------------------------------
@router.get("/staff/{staff_id}/qualifications", response_model=schema.QualificationsPublic)
def qualifications(
    staff_id: StaffId, system: SystemDep, principal: PrincipalDep, as_of: AsOf = None
) -> schema.QualificationsPublic:
    """Rule 132 on `as_of`: whether the member meets RSA and MHP, on which basis, and the
    dated facts each finding rests on (for each path not met, what it lacks)."""
    rule = _reader(system, principal, "qualifications.read", staff_id)
    day = as_of or _today()
    findings = system.careers.qualifications(staff_id, day)
    audit.read(system, "qualifications.read", staff_id, rule=rule)
    return schema.QualificationsPublic(staff_id=staff_id, as_of=day, findings=[
        schema.FindingPublic.model_validate(f) for f in findings])


@_created("/staff/{staff_id}/qualifications/birth-date")
def record_birth_date(
    staff_id: StaffId, body: schema.BirthDateCreate, system: SystemDep, principal: HR
) -> Written:
    """The date of birth (RSA: 21 years of age); recorded again, it corrects the record."""
    return _write("qualifications.birth_date", staff_id,
                  lambda: system.careers.record_birth_date(staff_id, body.birth_date))


@_created("/staff/{staff_id}/qualifications/awards")
def record_award(
    staff_id: StaffId, body: schema.AwardCreate, system: SystemDep, principal: HR
) -> Written:
    """A degree, licence or certificate that an MHP path rests on."""
    return _write("qualifications.award", staff_id, lambda: system.careers.record_award(
        staff_id, body.kind, body.awarded_on))


@router.post("/staff/{staff_id}/qualifications/experience", status_code=status.HTTP_201_CREATED,
             response_model=schema.ExperienceCreated)
def record_experience(
    staff_id: StaffId, body: schema.ExperienceCreate, system: SystemDep, principal: HR
) -> schema.ExperienceCreated:
    """A period of experience (open-ended while it lasts); returns its number."""
    with audit.command("qualifications.experience", staff_id):
        number, position = system.careers.record_experience(
            staff_id, body.kind, body.started_on, body.ended_on, body.supervised)
    return schema.ExperienceCreated(number=number, position=position)


@_created("/staff/{staff_id}/qualifications/experience/{number}/end")
def end_experience(
    staff_id: StaffId, number: Number, body: schema.ExperienceEnd, system: SystemDep, principal: HR
) -> Written:
    """The last day of an open period of experience."""
    return _write("qualifications.experience_end", staff_id,
                  lambda: system.careers.end_experience(staff_id, number, body.ended_on))


@_created("/staff/{staff_id}/qualifications/attestations")
def attest(
    staff_id: StaffId, body: schema.AttestationCreate, system: SystemDep, principal: HR
) -> Written:
    """A demonstrated competency (RSA), attested by another staff member."""
    return _write("qualifications.attest", staff_id, lambda: system.careers.attest(
        staff_id, body.competency, body.attested_by, body.attested_on))


# -- Teams --------------------------------------------------------------------------------
def _team_public(system: System, team: Team, day: date) -> schema.TeamPublic:
    return schema.TeamPublic.model_validate({
        "team_id": team.team_id, "kind": team.kind, "name": team.name,
        "formed_on": team.formed_on, "members": team.members,
        "status": system.careers.team_status(team, day),
    })


@router.get("/teams", response_model=list[schema.TeamPublic])
def list_teams(system: SystemDep, principal: HR, as_of: AsOf = None) -> list[schema.TeamPublic]:
    """Every CST and ACT team, each flagged incomplete (since when, and why) on `as_of`
    when it includes no CRSS in good standing."""
    day = as_of or _today()
    teams = [_team_public(system, team, day) for team in system.careers.teams()]
    audit.read(system, "teams.list")
    return teams


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=schema.TeamCreated)
def form_team(
    body: schema.TeamCreate, system: SystemDep, principal: HR, response: Response
) -> schema.TeamCreated:
    """Form a CST or ACT team."""
    with audit.command("teams.create", body.team_id):
        position = system.careers.form_team(
            body.team_id, body.kind, body.name, body.formed_on)
    response.headers["Location"] = f"/teams/{body.team_id}"
    return schema.TeamCreated(team_id=body.team_id, position=position)


@router.get("/teams/{team_id}", response_model=schema.TeamPublic)
def get_team(
    team_id: TeamId, system: SystemDep, principal: PrincipalDep, as_of: AsOf = None
) -> schema.TeamPublic:
    """A team, for HR, the Director's office or its current members (anyone else, and an
    unknown team, 403)."""
    record = audit.this_request()
    record.action, record.target = "teams.read", team_id
    team = system.careers.team_or_none(team_id)
    rule = _team_reader(principal, team)
    view = _team_public(system, team or system.careers.team(team_id), as_of or _today())
    audit.read(system, "teams.read", team_id, rule=rule)
    return view


def _team_reader(principal: Principal, team: Team | None) -> str:
    if principal.roles & SEE_ALL:
        return "role"
    if team is not None and principal.staff_id in team.members_on(_today()):
        return "member"
    raise PermissionDenied(
        "team_members", "a team is read by HR, the Director's office and its members"
    )


@_created("/teams/{team_id}/members")
def join_team(
    team_id: TeamId, body: schema.MemberCreate, system: SystemDep, principal: HR
) -> Written:
    """A staff member joins the team."""
    return _write("teams.join", team_id, lambda: system.careers.join_team(
        team_id, body.staff_id, body.joined_on))


@_created("/teams/{team_id}/members/{staff_id}/leave")
def leave_team(
    team_id: TeamId, staff_id: StaffId, body: schema.MemberLeave, system: SystemDep, principal: HR
) -> Written:
    """A member leaves the team on `left_on` (its first day off the team)."""
    return _write("teams.leave", team_id, lambda: system.careers.leave_team(
        team_id, staff_id, body.left_on))


# -- Trainings ----------------------------------------------------------------------------
@router.get("/staff/{staff_id}/trainings", response_model=schema.TrainingsPublic)
def trainings(
    staff_id: StaffId, system: SystemDep, principal: PrincipalDep, as_of: AsOf = None
) -> schema.TrainingsPublic:
    """Every training in the catalogue, whether the member's title requires it, and when
    it was last completed; `outstanding` lists the required ones not yet done."""
    rule = _reader(system, principal, "trainings.read", staff_id)
    day = as_of or _today()
    rows = [schema.TrainingPublic(
        code=s.training.code, name=s.training.name, audience=s.training.audience,
        source=s.training.source, required=s.required, completed_on=s.completed_on,
    ) for s in system.careers.trainings(staff_id, day)]
    audit.read(system, "trainings.read", staff_id, rule=rule)
    return schema.TrainingsPublic(staff_id=staff_id, as_of=day, trainings=rows, outstanding=[
        r.code for r in rows if r.required and r.completed_on is None])


@_created("/staff/{staff_id}/trainings")
def record_training(
    staff_id: StaffId, body: schema.TrainingCreate, system: SystemDep, principal: HR
) -> Written:
    """A completed training."""
    return _write("trainings.complete", staff_id, lambda: system.careers.record_training(
        staff_id, body.training, body.completed_on, body.hours))
