"""The dated facts about a staff member that Rule 132's qualifications rest on [seed:
Medicaid billing II]: date of birth, degrees, licences and certificates, periods of
experience, and the attestations of demonstrated skills.

Recorded by HR as facts, never inferred: `domain.staff.rule132` reads them as of a day.
Its data subject is the staff member.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ProtectedAggregate
from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.staff.aggregate import staff_uuid

FACTS_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:staff-facts")
AWARD_KINDS = (
    "high_school_diploma",
    "ged",
    "bachelors_degree",
    "practical_nurse_license",
    "prcp_certificate",  # psychiatric rehabilitation, from a DHS-approved program
    "ota_license",  # occupational therapy assistant
    "lpha_or_qmhp_credentials",
)
MH_SERVICES, INTERNSHIP = "mental_health_services", "mental_health_internship"
MH_SETTING, HUMAN_SERVICES = "mental_health_setting", "human_services"
EXPERIENCE_KINDS = (MH_SERVICES, INTERNSHIP, MH_SETTING, HUMAN_SERVICES)
#: RSA [II.A]: skills in the field; works within the agency's structure; works
#: constructively with clients, treatment resources and the community.
COMPETENCIES = ("skills_in_field", "works_within_agency_structure", "works_constructively")


def facts_uuid(staff_id: str) -> UUID:
    return uuid5(FACTS_NAMESPACE, staff_id)


@dataclass(frozen=True)
class Award:
    kind: str
    awarded_on: date


@dataclass(frozen=True)
class Experience:
    kind: str
    started_on: date
    ended_on: date | None
    supervised: bool

    def through(self, as_of: date) -> tuple[date, date] | None:
        """The inclusive period served by `as_of`, if it had begun."""
        if self.started_on > as_of:
            return None
        end = as_of if self.ended_on is None else min(self.ended_on, as_of)
        return self.started_on, end


@dataclass(frozen=True)
class Attestation:
    competency: str
    attested_by: str
    attested_on: date


class CareerFacts(ProtectedAggregate):
    """One staff member's Rule 132 facts (data subject: the staff member)."""

    @staticmethod
    def create_id(staff_id: str, **_: Any) -> UUID:
        return facts_uuid(staff_id)

    @event("Opened")
    def __init__(self, staff_id: str) -> None:
        self.staff_id = staff_id
        self.birth_date: date | None = None
        self.awards: list[Award] = []
        self.experience: list[Experience] = []
        self.attestations: list[Attestation] = []

    @property
    def data_subject_id(self) -> UUID:
        return staff_uuid(self.staff_id)

    @event("BirthDateRecorded")
    def record_birth_date(self, birth_date: date) -> None:
        """Recorded again, it corrects the earlier entry."""
        self.birth_date = birth_date

    def record_award(self, kind: str, awarded_on: date) -> None:
        if kind not in AWARD_KINDS:
            raise InvalidInput(f"award must be one of {list(AWARD_KINDS)}")
        if any(a.kind == kind for a in self.awards):
            raise RuleViolation("award_already_recorded", f"{kind} is already recorded")
        self._record_award(kind, awarded_on)

    @event("AwardRecorded")
    def _record_award(self, kind: str, awarded_on: date) -> None:
        self.awards.append(Award(kind, awarded_on))

    def record_experience(
        self, kind: str, started_on: date, ended_on: date | None, supervised: bool
    ) -> int:
        """Record a period of experience; returns its number (0 = the first)."""
        if kind not in EXPERIENCE_KINDS:
            raise InvalidInput(f"experience must be one of {list(EXPERIENCE_KINDS)}")
        if ended_on is not None and ended_on < started_on:
            raise InvalidInput(f"experience ends on {ended_on}, before it starts on {started_on}")
        if kind == INTERNSHIP and not supervised:
            raise InvalidInput("an internship counts only when supervised")
        self._record_experience(kind, started_on, ended_on, supervised)
        return len(self.experience) - 1

    @event("ExperienceRecorded")
    def _record_experience(
        self, kind: str, started_on: date, ended_on: date | None, supervised: bool
    ) -> None:
        self.experience.append(Experience(kind, started_on, ended_on, supervised))

    def end_experience(self, number: int, ended_on: date) -> None:
        if not 0 <= number < len(self.experience):
            raise NotFound(f"experience {number} of staff member {self.staff_id} does not exist")
        period = self.experience[number]
        if period.ended_on is not None:
            raise RuleViolation(
                "experience_ended", f"experience {number} ended on {period.ended_on}"
            )
        if ended_on < period.started_on:
            raise InvalidInput(
                f"experience {number} started on {period.started_on}, after {ended_on}"
            )
        self._end_experience(number, ended_on)

    @event("ExperienceEnded")
    def _end_experience(self, number: int, ended_on: date) -> None:
        self.experience[number] = replace(self.experience[number], ended_on=ended_on)

    def attest(self, competency: str, attested_by: str, attested_on: date) -> None:
        """A supervisor's (or manager's) attestation of a demonstrated competency."""
        if competency not in COMPETENCIES:
            raise InvalidInput(f"competency must be one of {list(COMPETENCIES)}")
        if attested_by == self.staff_id:
            raise RuleViolation("self_attestation", "a staff member cannot attest its own skills")
        if not attested_by.strip():
            raise InvalidInput("attested_by must name a staff member")
        self._attest(competency, attested_by, attested_on)

    @event("SkillsAttested")
    def _attest(self, competency: str, attested_by: str, attested_on: date) -> None:
        self.attestations.append(Attestation(competency, attested_by, attested_on))

    def award(self, kind: str, as_of: date) -> Award | None:
        return next((a for a in self.awards if a.kind == kind and a.awarded_on <= as_of), None)
