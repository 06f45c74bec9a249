"""The staff context's career side: CRSS credentials, Rule 132 facts, CST/ACT teams and
trainings. Each command loads, changes and saves in one commit, and returns the log
position; each read is a pure view of the aggregates as of a day.

None of these records names a client or a pseudonym: whether a staff member is also a
client lives in the subjects context alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar
from uuid import UUID

from domain.base import ContextApplication, Infrastructure, ProtectedAggregate
from domain.errors import AlreadyExists, RuleViolation
from domain.staff.application import StaffApplication
from domain.staff.credentials import CrssCredential, crss_uuid
from domain.staff.facts import CareerFacts, facts_uuid
from domain.staff.jobs import CATALOGUE
from domain.staff.progress import CrssProgress, crss_progress
from domain.staff.rule132 import Finding, qualifications
from domain.staff.team_index import TEAM_INDEX_ID, TeamIndex
from domain.staff.teams import MemberCredential, Team, TeamStatus, team_status, team_uuid
from domain.staff.trainings import (
    TrainingRecord,
    TrainingStatus,
    training_status,
    trainings_uuid,
)

A = TypeVar("A", bound=ProtectedAggregate)


class StaffCareerApplication(ContextApplication):
    name = "staff_careers"

    def __init__(self, infrastructure: Infrastructure, staff: StaffApplication) -> None:
        super().__init__(infrastructure)
        self.staff = staff

    def _change(self, aggregate: A, change: Callable[[A], object]) -> int:
        change(aggregate)
        return self.commit(aggregate)

    def _find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        if not self.recorder.select_events(aggregate_id, limit=1):
            return None
        found: A = self.load(aggregate_id, kind.__name__, kind=kind)
        return found

    # -- CRSS ------------------------------------------------------------------------
    def start_crss(self, staff_id: str, started_on: date) -> int:
        self.staff.get(staff_id)
        if self.crss_or_none(staff_id) is not None:
            raise AlreadyExists(f"staff member {staff_id} already has a CRSS record")
        return self.commit(CrssCredential.start(staff_id, started_on))

    def crss_or_none(self, staff_id: str) -> CrssCredential | None:
        return self._find(crss_uuid(staff_id), CrssCredential)

    def crss(self, staff_id: str) -> CrssCredential:
        found: CrssCredential = self.load(
            crss_uuid(staff_id), f"the CRSS record of staff member {staff_id}", kind=CrssCredential
        )
        return found

    def record_education(self, staff_id: str, kind: str, completed_on: date) -> int:
        return self._change(self.crss(staff_id), lambda c: c.record_education(kind, completed_on))

    def log_hours(self, staff_id: str, category: str, hours: float, on: date,
                  domain: str | None = None, paid: bool | None = None) -> int:
        return self._change(
            self.crss(staff_id), lambda c: c.log_hours(category, hours, on, domain, paid)
        )

    def submit_application(self, staff_id: str, submitted_on: date) -> int:
        return self._change(self.crss(staff_id), lambda c: c.submit_application(submitted_on))

    def record_exam(self, staff_id: str, taken_on: date, passed: bool) -> int:
        return self._change(self.crss(staff_id), lambda c: c.record_exam(taken_on, passed))

    def grant_crss(self, staff_id: str, granted_on: date) -> int:
        return self._change(self.crss(staff_id), lambda c: c.grant(granted_on))

    def renew_crss(self, staff_id: str, renewed_on: date) -> int:
        return self._change(self.crss(staff_id), lambda c: c.renew(renewed_on))

    def progress(self, staff_id: str, as_of: date) -> CrssProgress:
        return crss_progress(self.crss(staff_id), as_of)

    # -- Rule 132 facts ------------------------------------------------------------------
    def facts(self, staff_id: str) -> CareerFacts:
        """The member's facts, opened (unsaved) on first use."""
        self.staff.get(staff_id)
        return self._find(facts_uuid(staff_id), CareerFacts) or CareerFacts(staff_id)

    def record_birth_date(self, staff_id: str, birth_date: date) -> int:
        return self._change(self.facts(staff_id), lambda f: f.record_birth_date(birth_date))

    def record_award(self, staff_id: str, kind: str, awarded_on: date) -> int:
        return self._change(self.facts(staff_id), lambda f: f.record_award(kind, awarded_on))

    def record_experience(self, staff_id: str, kind: str, started_on: date,
                          ended_on: date | None, supervised: bool) -> tuple[int, int]:
        """Returns the period's number and the log position."""
        facts = self.facts(staff_id)
        number = facts.record_experience(kind, started_on, ended_on, supervised)
        return number, self.commit(facts)

    def end_experience(self, staff_id: str, number: int, ended_on: date) -> int:
        return self._change(self.facts(staff_id), lambda f: f.end_experience(number, ended_on))

    def attest(self, staff_id: str, competency: str, attested_by: str, attested_on: date) -> int:
        self.staff.get(attested_by)
        return self._change(
            self.facts(staff_id), lambda f: f.attest(competency, attested_by, attested_on)
        )

    def qualifications(self, staff_id: str, as_of: date) -> tuple[Finding, Finding]:
        self.staff.get(staff_id)
        facts = self._find(facts_uuid(staff_id), CareerFacts)
        return qualifications(facts, self.crss_or_none(staff_id), as_of)

    # -- Teams ---------------------------------------------------------------------------
    def form_team(self, team_id: str, kind: str, name: str, formed_on: date) -> int:
        if self._find(team_uuid(team_id), Team) is not None:
            raise AlreadyExists(f"team {team_id} already exists")
        team = Team.form(team_id, kind, name, formed_on)
        index = self._find(TEAM_INDEX_ID, TeamIndex) or TeamIndex()
        index.list_team(team_id, kind)
        return self.commit(team, index)

    def teams(self) -> list[Team]:
        index = self._find(TEAM_INDEX_ID, TeamIndex)
        return [self.team(t) for t in sorted(index.kinds)] if index else []

    def team_or_none(self, team_id: str) -> Team | None:
        return self._find(team_uuid(team_id), Team)

    def team(self, team_id: str) -> Team:
        found: Team = self.load(team_uuid(team_id), f"team {team_id}", kind=Team)
        return found

    def join_team(self, team_id: str, staff_id: str, joined_on: date) -> int:
        member = self.staff.get(staff_id)
        if member.separated_on is not None and joined_on >= member.separated_on:
            raise RuleViolation(
                "separated", f"staff member {staff_id} separated on {member.separated_on}"
            )
        return self._change(self.team(team_id), lambda t: t.join(staff_id, joined_on))

    def leave_team(self, team_id: str, staff_id: str, left_on: date) -> int:
        return self._change(self.team(team_id), lambda t: t.leave(staff_id, left_on))

    def team_status(self, team: Team, as_of: date) -> TeamStatus:
        credentials = {}
        for staff_id in {m.staff_id for m in team.members}:
            crss = self.crss_or_none(staff_id)
            credentials[staff_id] = MemberCredential(
                tuple(crss.standing_periods()) if crss else (),
                self.staff.get(staff_id).separated_on,
            )
        return team_status(team, credentials, as_of)

    # -- Trainings -----------------------------------------------------------------------
    def record_training(self, staff_id: str, training: str, completed_on: date,
                        hours: float | None = None) -> int:
        self.staff.get(staff_id)
        record = self._find(trainings_uuid(staff_id), TrainingRecord) or TrainingRecord(staff_id)
        return self._change(record, lambda r: r.complete(training, completed_on, hours))

    def trainings(self, staff_id: str, as_of: date) -> list[TrainingStatus]:
        job = self.staff.get(staff_id).job_title
        record = self._find(trainings_uuid(staff_id), TrainingRecord)
        return training_status(record, CATALOGUE[job], as_of)
