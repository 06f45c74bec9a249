"""A staff member's way to the CRSS credential, and keeping it [seed: Professional
credentialing — CRSS III-VI].

Requirements [III]: a high school diploma or GED; 2,000 supervised hours of paid or
volunteer qualified work; 100 hours of supervision in the four performance domains [IV];
100 hours of training/education; a passed written exam. The application goes to the ICB
once the requirements are met; the exam follows it; the grant follows a passed exam.
Keeping it [V.C, VI.B]: an annual renewal and 40 CEU hours every two years.

How dates are read (the seed gives none; these are the agency's, stated once):
- a renewal is due on each anniversary of the grant and may be recorded up to
  `RENEWAL_WINDOW_DAYS` before it; recorded after it, the renewal is late and the
  credential was lapsed from the day after the due date until the day before the renewal
  (a renewal a year or more late is refused: the person reapplies);
- CEU cycles are the two-year periods that end on the even anniversaries; the renewal due
  on an even anniversary needs 40 CEU hours in the cycle it closes (a late renewal may
  count hours made up before it, which then do not count for the next cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ProtectedAggregate
from domain.errors import InvalidInput, OutOfOrder, RuleViolation
from domain.staff.aggregate import staff_uuid
from domain.staff.dates import ONE_DAY, add_years, merge_periods

CRSS_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:crss")
DOMAINS = ("advocacy", "professional_responsibility", "mentoring", "recovery_support")
EDUCATION_KINDS = ("high_school_diploma", "ged")
WORK, SUPERVISION, TRAINING, CEU = "work", "supervision", "training", "ceu"
CATEGORIES = (WORK, SUPERVISION, TRAINING, CEU)
REQUIRED_HOURS = {WORK: 2000.0, SUPERVISION: 100.0, TRAINING: 100.0}
CEU_HOURS_REQUIRED = 40.0
CEU_CYCLE_YEARS = 2
RENEWAL_WINDOW_DAYS = 90
MAX_HOURS_PER_ENTRY = 2000.0  # the whole work requirement, documented at once


def crss_uuid(staff_id: str) -> UUID:
    """The aggregate id of a staff member's CRSS record: one per staff member."""
    return uuid5(CRSS_NAMESPACE, staff_id)


def check_hours(hours: float) -> float:
    """Hours in quarter hours (exact in binary, so sums at the edges are exact)."""
    if not 0 < hours <= MAX_HOURS_PER_ENTRY or (hours * 4) % 1:
        raise InvalidInput(
            f"hours must be a positive number of quarter hours up to {MAX_HOURS_PER_ENTRY:g}"
        )
    return float(hours)


@dataclass(frozen=True)
class HoursEntry:
    category: str
    hours: float
    on: date
    domain: str | None = None
    paid: bool | None = None


@dataclass(frozen=True)
class Renewal:
    renewed_on: date
    due_on: date

    @property
    def late(self) -> bool:
        return self.renewed_on > self.due_on


@dataclass(frozen=True)
class Exam:
    taken_on: date
    passed: bool


class CrssCredential(ProtectedAggregate):
    """One staff member's CRSS record; its data subject is the staff member."""

    @staticmethod
    def create_id(staff_id: str, **_: Any) -> UUID:
        return crss_uuid(staff_id)

    @event("Started")
    def __init__(self, staff_id: str, started_on: date) -> None:
        self.staff_id = staff_id
        self.started_on = started_on
        self.education: tuple[str, date] | None = None
        self.hours: list[HoursEntry] = []
        self.applied_on: date | None = None
        self.exams: list[Exam] = []
        self.granted_on: date | None = None
        self.renewals: list[Renewal] = []

    @classmethod
    def start(cls, staff_id: str, started_on: date) -> CrssCredential:
        if not staff_id.strip():
            raise InvalidInput("staff_id must not be blank")
        return cls(staff_id, started_on)

    @property
    def data_subject_id(self) -> UUID:
        """The staff member: shredding the member's keys shreds this record too."""
        return staff_uuid(self.staff_id)

    # -- the road to the credential [III] -------------------------------------------
    def record_education(self, kind: str, completed_on: date) -> None:
        if kind not in EDUCATION_KINDS:
            raise InvalidInput(f"education must be one of {list(EDUCATION_KINDS)}")
        self._record_education(kind, completed_on)

    @event("EducationRecorded")
    def _record_education(self, kind: str, completed_on: date) -> None:
        self.education = (kind, completed_on)

    def log_hours(
        self, category: str, hours: float, on: date,
        domain: str | None = None, paid: bool | None = None,
    ) -> None:
        """Work (paid or volunteer), supervision (in one performance domain), training,
        or — once the credential is granted — continuing education."""
        if category not in CATEGORIES:
            raise InvalidInput(f"category must be one of {list(CATEGORIES)}")
        if (category == SUPERVISION) != (domain is not None):
            raise InvalidInput(f"supervision hours, and only they, name one of {list(DOMAINS)}")
        if domain is not None and domain not in DOMAINS:
            raise InvalidInput(f"domain must be one of {list(DOMAINS)}")
        if (category == WORK) != (paid is not None):
            raise InvalidInput("work hours, and only they, say whether the work was paid")
        if category == CEU:
            granted_on = self._granted("log continuing education")
            if on < granted_on:
                raise InvalidInput(f"CEU hours on {on} predate the grant on {granted_on}")
        self._log_hours(category, check_hours(hours), on, domain, paid)

    @event("HoursLogged")
    def _log_hours(
        self, category: str, hours: float, on: date, domain: str | None, paid: bool | None
    ) -> None:
        self.hours.append(HoursEntry(category, hours, on, domain, paid))

    def hours_in(self, category: str, through: date, since: date = date.min) -> float:
        entries = (e for e in self.hours if e.category == category)
        return sum((e.hours for e in entries if since <= e.on <= through), 0.0)

    def missing_requirements(self, on: date) -> list[str]:
        """The requirements [III.A-D] not yet met on `on`, in words."""
        missing = []
        if self.education is None or self.education[1] > on:
            missing.append("a high school diploma or GED")
        for category, required in REQUIRED_HOURS.items():
            done = self.hours_in(category, on)
            if done < required:
                left = required - done
                missing.append(f"{left:g} more {category} hours ({done:g} of {required:g})")
        return missing

    def submit_application(self, submitted_on: date) -> None:
        if self.applied_on is not None:
            raise RuleViolation(
                "already_applied", f"the application was submitted on {self.applied_on}"
            )
        missing = self.missing_requirements(submitted_on)
        if missing:
            raise OutOfOrder(f"the CRSS application needs first: {'; '.join(missing)}")
        self._submit_application(submitted_on)

    @event("ApplicationSubmitted")
    def _submit_application(self, submitted_on: date) -> None:
        self.applied_on = submitted_on

    def record_exam(self, taken_on: date, passed: bool) -> None:
        if self.applied_on is None or taken_on < self.applied_on:
            raise OutOfOrder("the written exam follows the submitted application")
        if self.passed_exam_on is not None:
            raise RuleViolation(
                "exam_already_passed", f"the exam was passed on {self.passed_exam_on}"
            )
        if self.exams and taken_on < self.exams[-1].taken_on:
            raise InvalidInput(f"exam date {taken_on} is before the last attempt")
        self._record_exam(taken_on, passed)

    @event("ExamRecorded")
    def _record_exam(self, taken_on: date, passed: bool) -> None:
        self.exams.append(Exam(taken_on, passed))

    @property
    def passed_exam_on(self) -> date | None:
        return next((e.taken_on for e in self.exams if e.passed), None)

    def grant(self, granted_on: date) -> None:
        if self.granted_on is not None:
            raise RuleViolation("already_granted", f"the CRSS was granted on {self.granted_on}")
        if self.passed_exam_on is None or granted_on < self.passed_exam_on:
            raise OutOfOrder("the CRSS is granted after a passed written exam")
        self._grant(granted_on)

    @event("Granted")
    def _grant(self, granted_on: date) -> None:
        self.granted_on = granted_on

    # -- keeping it [V.C, VI.B] -----------------------------------------------------
    def _granted(self, action: str) -> date:
        if self.granted_on is None:
            raise OutOfOrder(f"cannot {action} before the CRSS is granted")
        return self.granted_on

    @property
    def renewal_due_on(self) -> date | None:
        """The anniversary on which the next annual renewal is due."""
        if self.granted_on is None:
            return None
        return add_years(self.granted_on, len(self.renewals) + 1)

    def renew(self, renewed_on: date) -> None:
        due = add_years(self._granted("renew"), len(self.renewals) + 1)
        if self.renewals and renewed_on < self.renewals[-1].renewed_on:
            raise InvalidInput(f"renewal date {renewed_on} is before the last renewal")
        opens = due - RENEWAL_WINDOW_DAYS * ONE_DAY
        if renewed_on < opens:
            raise RuleViolation(
                "renewal_too_early", f"the renewal due on {due} can be recorded from {opens}"
            )
        if renewed_on >= add_years(due, 1):
            raise RuleViolation(
                "lapsed_over_a_year", f"the renewal due on {due} is a year late: reapply"
            )
        self._check_ceus_for(len(self.renewals), renewed_on)
        self._renew(renewed_on, due)

    @event("Renewed")
    def _renew(self, renewed_on: date, due_on: date) -> None:
        self.renewals.append(Renewal(renewed_on, due_on))

    def _check_ceus_for(self, renewal_index: int, renewed_on: date) -> None:
        cycle = closes_cycle(renewal_index)
        if cycle is None:
            return
        start, due = self.ceu_cycle(cycle)
        done = self.hours_in(CEU, max(due, renewed_on), since=start)
        if done < CEU_HOURS_REQUIRED:
            raise RuleViolation(
                "ceus_required",
                f"the renewal due on {due} needs {CEU_HOURS_REQUIRED:g} CEU hours in the two "
                f"years it closes ({start} to {due}); {done:g} are recorded",
            )

    def ceu_cycle(self, cycle: int) -> tuple[date, date]:
        """The first day and the due date of CEU cycle `cycle` (0 = the first two years);
        a cycle closed by a late renewal gives the following one a later start."""
        assert self.granted_on is not None
        start = self.granted_on
        for k in range(cycle):
            end = add_years(self.granted_on, CEU_CYCLE_YEARS * (k + 1))
            closing = self._renewal_closing(k)
            start = max(end, closing.renewed_on if closing else end) + ONE_DAY
        return start, add_years(self.granted_on, CEU_CYCLE_YEARS * (cycle + 1))

    def _renewal_closing(self, cycle: int) -> Renewal | None:
        index = CEU_CYCLE_YEARS * (cycle + 1) - 1
        return self.renewals[index] if index < len(self.renewals) else None

    def standing_periods(self) -> list[tuple[date, date]]:
        """The inclusive periods in which the credential was in good standing, as the
        renewals recorded so far have it (the last ends on the next renewal's due date)."""
        if self.granted_on is None:
            return []
        periods, start = [], self.granted_on
        for renewal in self.renewals:
            if renewal.renewed_on > renewal.due_on + ONE_DAY:
                periods.append((start, renewal.due_on))
                start = renewal.renewed_on
        due = self.renewal_due_on
        assert due is not None
        return merge_periods([*periods, (start, due)])

    def in_good_standing(self, on: date) -> bool:
        return any(start <= on <= end for start, end in self.standing_periods())


def closes_cycle(renewal_index: int) -> int | None:
    """Which CEU cycle the renewal at `renewal_index` (0 = first) closes, if any."""
    anniversary = renewal_index + 1
    return anniversary // CEU_CYCLE_YEARS - 1 if anniversary % CEU_CYCLE_YEARS == 0 else None
