"""What a staff member's CRSS record says on a given day: a pure function of the record
and the date. Facts dated after the day are not counted, so yesterday's view is the
same today as it was yesterday.

It says what remains (requirements in hours and steps) and flags what is due (within
`RENEWAL_WINDOW_DAYS` of its date, or waiting on the next step) or overdue (past it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.staff.credentials import (
    CEU,
    CEU_CYCLE_YEARS,
    CEU_HOURS_REQUIRED,
    DOMAINS,
    RENEWAL_WINDOW_DAYS,
    REQUIRED_HOURS,
    SUPERVISION,
    CrssCredential,
)
from domain.staff.dates import ONE_DAY, add_years

DUE, OVERDUE = "due", "overdue"


@dataclass(frozen=True)
class Requirement:
    name: str
    met: bool
    done: float | None = None
    required: float | None = None

    @property
    def remaining(self) -> float | None:
        if self.done is None or self.required is None:
            return None
        return max(self.required - self.done, 0.0)


@dataclass(frozen=True)
class Flag:
    item: str  # application, exam, grant, renewal, ceus
    status: str  # due, overdue
    due_on: date | None
    detail: str


@dataclass(frozen=True)
class CeuCycle:
    starts_on: date
    due_on: date
    done: float
    required: float = CEU_HOURS_REQUIRED

    @property
    def remaining(self) -> float:
        return max(self.required - self.done, 0.0)


@dataclass(frozen=True)
class CrssProgress:
    staff_id: str
    as_of: date
    stage: str
    requirements: tuple[Requirement, ...]
    supervision_by_domain: dict[str, float]
    applied_on: date | None
    exam_attempts: int
    passed_exam_on: date | None
    granted_on: date | None
    in_good_standing: bool
    renewal_due_on: date | None
    ceus: CeuCycle | None
    flags: tuple[Flag, ...] = field(default=())
    remaining: tuple[str, ...] = field(default=())


def requirements(cred: CrssCredential, as_of: date) -> tuple[Requirement, ...]:
    """The five requirements [III.A-E], each met or not on `as_of`."""
    education = cred.education is not None and cred.education[1] <= as_of
    hours = tuple(
        Requirement(f"{category}_hours", done >= required, done, required)
        for category, required in REQUIRED_HOURS.items()
        for done in (cred.hours_in(category, as_of),)
    )
    exam = any(e.passed and e.taken_on <= as_of for e in cred.exams)
    return (Requirement("education", education), *hours, Requirement("written_exam", exam))


def crss_progress(cred: CrssCredential, as_of: date) -> CrssProgress:
    reqs = requirements(cred, as_of)
    applied = cred.applied_on if cred.applied_on and cred.applied_on <= as_of else None
    attempts = [e for e in cred.exams if e.taken_on <= as_of]
    passed = next((e.taken_on for e in attempts if e.passed), None)
    granted = cred.granted_on if cred.granted_on and cred.granted_on <= as_of else None
    renewals = sum(1 for r in cred.renewals if r.renewed_on <= as_of)
    due = add_years(granted, renewals + 1) if granted else None
    ceus = _ceu_cycle(cred, as_of, renewals) if granted else None
    standing = cred.in_good_standing(as_of)
    stage = _stage(reqs, applied, passed, granted, standing)
    flags = _flags(stage, as_of, due, ceus)
    return CrssProgress(
        staff_id=cred.staff_id, as_of=as_of, stage=stage, requirements=reqs,
        supervision_by_domain={
            d: sum((e.hours for e in cred.hours
                    if e.category == SUPERVISION and e.domain == d and e.on <= as_of), 0.0)
            for d in DOMAINS
        },
        applied_on=applied, exam_attempts=len(attempts), passed_exam_on=passed,
        granted_on=granted, in_good_standing=standing, renewal_due_on=due, ceus=ceus,
        flags=flags, remaining=_remaining(cred, as_of, stage),
    )


def _ceu_cycle(cred: CrssCredential, as_of: date, renewals: int) -> CeuCycle:
    """The CEU cycle open on `as_of`: the one the next cycle-closing renewal closes."""
    starts_on, due_on = cred.ceu_cycle(renewals // CEU_CYCLE_YEARS)
    return CeuCycle(starts_on, due_on, cred.hours_in(CEU, as_of, since=starts_on))


def _stage(
    reqs: tuple[Requirement, ...], applied: date | None, passed: date | None,
    granted: date | None, standing: bool,
) -> str:
    if granted:
        return "in_good_standing" if standing else "lapsed"
    if passed:
        return "exam_passed"
    if applied:
        return "applied"
    return "ready_to_apply" if all(r.met for r in reqs[:-1]) else "in_progress"


NEXT_STEP = {
    "ready_to_apply": ("application", "the requirements are met: submit the application"),
    "applied": ("exam", "the application is in: take the written exam"),
    "exam_passed": ("grant", "the exam is passed: record the grant"),
}


def _flags(stage: str, as_of: date, due: date | None, ceus: CeuCycle | None) -> tuple[Flag, ...]:
    flags = []
    if stage in NEXT_STEP:
        item, detail = NEXT_STEP[stage]
        flags.append(Flag(item, DUE, None, detail))
    if due is not None:
        status = _status(as_of, due, outstanding=True)
        if status:
            words = "was due" if status == OVERDUE else "is due"
            flags.append(Flag("renewal", status, due, f"the annual renewal {words} on {due}"))
    if ceus is not None:
        status = _status(as_of, ceus.due_on, outstanding=ceus.remaining > 0)
        if status:
            flags.append(Flag("ceus", status, ceus.due_on, (
                f"{ceus.remaining:g} of {ceus.required:g} CEU hours remain for the two years "
                f"ending {ceus.due_on}"
            )))
    return tuple(flags)


def _status(as_of: date, due_on: date, outstanding: bool) -> str | None:
    if not outstanding:
        return None
    if as_of > due_on:
        return OVERDUE
    return DUE if as_of >= due_on - RENEWAL_WINDOW_DAYS * ONE_DAY else None


def _remaining(cred: CrssCredential, as_of: date, stage: str) -> tuple[str, ...]:
    """What is left to reach the credential, in words (nothing once it is granted)."""
    if stage in ("in_good_standing", "lapsed"):
        return ()
    steps = {
        "in_progress": ["submit the application", "pass the written exam", "record the grant"],
        "ready_to_apply": ["submit the application", "pass the written exam", "record the grant"],
        "applied": ["pass the written exam", "record the grant"],
        "exam_passed": ["record the grant"],
    }[stage]
    return (*cred.missing_requirements(as_of), *steps)
