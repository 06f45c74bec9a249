"""Careers: the job catalogue, CRSS progress, Rule 132 qualifications, CST/ACT teams and
trainings. Views name staff ids only: no pseudonym, no client record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.schemas.common import ID_PATTERN, StaffIdField, Strict, Written
from domain.staff.credentials import MAX_HOURS_PER_ENTRY
from domain.staff.trainings import MAX_TRAINING_HOURS

#: The domain's vocabularies, spelled out for the OpenAPI schema (a unit test keeps each
#: equal to the domain's tuple).
Education = Literal["high_school_diploma", "ged"]
Domain = Literal["advocacy", "professional_responsibility", "mentoring", "recovery_support"]
HoursCategory = Literal["work", "supervision", "training"]
AwardKind = Literal[
    "high_school_diploma", "ged", "bachelors_degree", "practical_nurse_license",
    "prcp_certificate", "ota_license", "lpha_or_qmhp_credentials",
]
ExperienceKind = Literal[
    "mental_health_services", "mental_health_internship", "mental_health_setting",
    "human_services",
]
Competency = Literal["skills_in_field", "works_within_agency_structure", "works_constructively"]
TeamKind = Literal["CST", "ACT"]
TrainingCode = Literal[
    "the_vision", "person_first_language", "returning_after_absence", "rss_practical_skills",
    "rss_boundaries_and_role_conflicts",
]


EARLIEST = date(1900, 1, 1)


def _not_after_today(day: date) -> date:
    today = datetime.now(UTC).date()
    if not EARLIEST <= day <= today:
        raise ValueError(f"{day} is not between {EARLIEST} and today ({today})")
    return day


#: A recorded fact's date: from 1900 and never after today.
Past = Annotated[date, AfterValidator(_not_after_today)]
Hours = Annotated[
    float, Field(gt=0, le=MAX_HOURS_PER_ENTRY, multiple_of=0.25, description="In quarter hours")
]


class Public(BaseModel):
    """Response shapes read straight from the domain's views (dataclasses)."""

    model_config = ConfigDict(from_attributes=True)


# -- requests -------------------------------------------------------------------------------
class CrssStart(Strict):
    started_on: Past


class EducationCreate(Strict):
    kind: Education
    completed_on: Past


class HoursCreate(Strict):
    """Work hours say whether the work was `paid` (or volunteer); supervision hours name
    the performance `domain`."""

    category: HoursCategory
    hours: Hours
    on: Past
    domain: Domain | None = None
    paid: bool | None = None


class CeuCreate(Strict):
    hours: Hours
    completed_on: Past


class ApplicationCreate(Strict):
    submitted_on: Past


class ExamCreate(Strict):
    taken_on: Past
    passed: bool


class GrantCreate(Strict):
    granted_on: Past


class RenewalCreate(Strict):
    renewed_on: Past


class BirthDateCreate(Strict):
    birth_date: Past


class AwardCreate(Strict):
    kind: AwardKind
    awarded_on: Past


class ExperienceCreate(Strict):
    kind: ExperienceKind
    started_on: Past
    ended_on: Past | None = None
    supervised: bool


class ExperienceEnd(Strict):
    ended_on: Past


class ExperienceCreated(Written):
    number: int = Field(description="The period's number, for .../experience/{number}/end")


class AttestationCreate(Strict):
    competency: Competency
    attested_by: StaffIdField = Field(description="The attesting staff member")
    attested_on: Past


class TeamCreate(Strict):
    team_id: str = Field(pattern=ID_PATTERN)
    kind: TeamKind
    name: str = Field(min_length=1, max_length=200)
    formed_on: Past


class TeamCreated(Written):
    team_id: str


class MemberCreate(Strict):
    staff_id: StaffIdField
    joined_on: Past


class MemberLeave(Strict):
    left_on: Past = Field(description="The first day off the team")


class TrainingCreate(Strict):
    training: TrainingCode
    completed_on: Past
    hours: float | None = Field(default=None, gt=0, le=MAX_TRAINING_HOURS)


# -- responses ------------------------------------------------------------------------------
class QualificationPublic(Public):
    kind: str
    text: str


class JobPublic(Public):
    code: str
    name: str
    peer: bool
    charts: bool
    level: int
    supervisory: bool
    basis: str = Field(description="education_experience, competencies, or both")
    responsibilities: list[str]
    qualifications: list[QualificationPublic]
    advances_to: list[str]


class RequirementPublic(Public):
    name: str
    met: bool
    done: float | None
    required: float | None
    remaining: float | None


class FlagPublic(Public):
    item: str
    status: str
    due_on: date | None
    detail: str


class CeuCyclePublic(Public):
    starts_on: date
    due_on: date
    done: float
    required: float
    remaining: float


class CrssProgressPublic(Public):
    credential: str = "CRSS"
    staff_id: str
    as_of: date
    stage: str
    requirements: list[RequirementPublic]
    supervision_by_domain: dict[str, float]
    applied_on: date | None
    exam_attempts: int
    passed_exam_on: date | None
    granted_on: date | None
    in_good_standing: bool
    renewal_due_on: date | None
    ceus: CeuCyclePublic | None
    flags: list[FlagPublic]
    remaining: list[str]


class FactPublic(Public):
    name: str
    on: date
    detail: str


class PathPublic(Public):
    basis: str
    met: bool
    facts: list[FactPublic]
    missing: list[str]


class FindingPublic(Public):
    code: str
    met: bool
    basis: str | None
    facts: list[FactPublic]
    paths: list[PathPublic]


class QualificationsPublic(BaseModel):
    staff_id: str
    as_of: date
    findings: list[FindingPublic]


class MemberPublic(Public):
    staff_id: str
    joined_on: date
    left_on: date | None


class TeamStatusPublic(Public):
    as_of: date
    complete: bool = Field(description="Rule 132: the team includes a CRSS in good standing")
    crss_members: list[str]
    incomplete_since: date | None
    reason: str | None


class TeamPublic(Public):
    team_id: str
    kind: str
    name: str
    formed_on: date
    members: list[MemberPublic]
    status: TeamStatusPublic


class TrainingPublic(BaseModel):
    code: str
    name: str
    audience: str
    source: str
    required: bool
    completed_on: date | None


class TrainingsPublic(BaseModel):
    staff_id: str
    as_of: date
    trainings: list[TrainingPublic]
    outstanding: list[str]
