"""Training [seed: Staff training]: what every employee learns as the agency brings RSS
staff on board (I.A-C), and what RSS staff learn besides (II.A-B); a record of
completions per staff member, and what is still outstanding for a job title."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ProtectedAggregate
from domain.errors import InvalidInput, RuleViolation
from domain.staff.aggregate import staff_uuid
from domain.staff.jobs import JobTitle

TRAININGS_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:staff-trainings")
ALL_STAFF, RSS_STAFF = "all_staff", "rss_staff"
MAX_TRAINING_HOURS = 100.0


@dataclass(frozen=True)
class Training:
    code: str
    name: str
    audience: str  # all_staff or rss_staff
    source: str


TRAININGS: dict[str, Training] = {
    t.code: t
    for t in (
        Training("the_vision", "Teach the vision: why the agency hires RSS staff and the "
                 "outcomes it expects", ALL_STAFF, "Staff training I.A"),
        Training("person_first_language", "The power of language: speaking respectfully, "
                 "person-first", ALL_STAFF, "Staff training I.B"),
        Training("returning_after_absence", "A colleague returning after illness: welcome, "
                 "re-orient, no coddling, time to ease back if asked", ALL_STAFF,
                 "Staff training I.C"),
        Training("rss_practical_skills", "Practical skills learned through education and "
                 "work experience", RSS_STAFF, "Staff training II.A"),
        Training("rss_boundaries_and_role_conflicts", "Boundaries and role conflicts of the "
                 "RSS position", RSS_STAFF, "Staff training II.B"),
    )
}


def trainings_uuid(staff_id: str) -> UUID:
    return uuid5(TRAININGS_NAMESPACE, staff_id)


@dataclass(frozen=True)
class Completion:
    training: str
    completed_on: date
    hours: float | None = None


@dataclass(frozen=True)
class TrainingStatus:
    training: Training
    required: bool
    completed_on: date | None  # the latest completion on or before the day asked about


class TrainingRecord(ProtectedAggregate):
    """One staff member's completed trainings (data subject: the staff member)."""

    @staticmethod
    def create_id(staff_id: str, **_: Any) -> UUID:
        return trainings_uuid(staff_id)

    @event("Opened")
    def __init__(self, staff_id: str) -> None:
        self.staff_id = staff_id
        self.completions: list[Completion] = []

    @property
    def data_subject_id(self) -> UUID:
        return staff_uuid(self.staff_id)

    def complete(self, training: str, completed_on: date, hours: float | None = None) -> None:
        if training not in TRAININGS:
            raise InvalidInput(f"training must be one of {sorted(TRAININGS)}")
        if hours is not None and not 0 < hours <= MAX_TRAINING_HOURS:
            raise InvalidInput(f"hours must be more than 0 and at most {MAX_TRAINING_HOURS:g}")
        if any(c.training == training and c.completed_on == completed_on
               for c in self.completions):
            raise RuleViolation(
                "training_already_recorded", f"{training} is already recorded on {completed_on}"
            )
        self._complete(training, completed_on, None if hours is None else float(hours))

    @event("Completed")
    def _complete(self, training: str, completed_on: date, hours: float | None) -> None:
        self.completions.append(Completion(training, completed_on, hours))


def training_status(
    record: TrainingRecord | None, job: JobTitle, as_of: date
) -> list[TrainingStatus]:
    """Every training in the catalogue: whether this title requires it (RSS trainings are
    for peer titles) and when it was last completed on or before `as_of`."""
    done = record.completions if record is not None else []
    return [
        TrainingStatus(
            t, t.audience == ALL_STAFF or job.peer,
            max((c.completed_on for c in done
                 if c.training == t.code and c.completed_on <= as_of), default=None),
        )
        for t in TRAININGS.values()
    ]
