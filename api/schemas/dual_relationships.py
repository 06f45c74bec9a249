"""Dual-relationship cases: the disclosure, each step's body, the case and the queue."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import ID_PATTERN, PSEUDONYM_PATTERN, StaffIdField, Strict, Written
from domain.dual_relationships import DualRelationshipCase, DualRelationshipPolicy, Step

Kind = Literal["social", "romantic", "sexual", "financial", "other"]
Outcome = Literal["exception_with_conditions", "reassign", "relationship_must_end", "no_conflict"]
#: What a case can wait for (`DualRelationshipCase.current_step`); a filter on one step
#: also matches the combined "guidance_and_recommendation".
QueueStep = Literal[
    "referral", "guidance", "recommendation", "guidance_and_recommendation",
    "decision", "conditions", "close", "closed",
]
ConditionText = Annotated[str, Field(min_length=1, max_length=2_000)]


class DisclosureCreate(Strict):
    staff_id: StaffIdField = Field(description="The staff member in the relationship")
    counterpart_pseudonym: str | None = Field(
        default=None, pattern=PSEUDONYM_PATTERN,
        description="A sequestered subject known here; case status and closing date then "
                    "come from its chart",
    )
    counterpart_client_ref: str | None = Field(
        default=None, pattern=ID_PATTERN, description="The agency's own client number"
    )
    counterpart_case_status: Literal["open", "closed"] | None = Field(
        default=None, description="Only with counterpart_client_ref"
    )
    counterpart_case_closed_on: date | None = Field(
        default=None, description="Only with counterpart_client_ref and a closed case"
    )
    kind: Kind
    began_on: date
    ended_on: date | None = None
    predates_hire: bool
    disclosed_on: date | None = Field(default=None, description="Default: today")
    disclosed_to: StaffIdField | None = Field(
        default=None,
        description="The manager disclosed to; omit when a manager records it (it is them)",
    )


class CaseCreated(Written):
    case_id: UUID


class StepDate(Strict):
    on: date | None = Field(default=None, description="When the step was taken; default today")


class GuidanceCreate(StepDate):
    """County Counsel's `guidance`, or (Clinical Deputy or Director) `waived` with a `reason`."""

    guidance: str | None = Field(default=None, min_length=1, max_length=10_000)
    waived: bool = False
    reason: str | None = Field(default=None, min_length=1, max_length=2_000)

    @model_validator(mode="after")
    def guidance_or_waiver(self) -> Self:
        if self.waived and (self.reason is None or self.guidance is not None):
            raise ValueError("a waiver needs a reason and no guidance text")
        if not self.waived and (self.guidance is None or self.reason is not None):
            raise ValueError("give guidance, or waived=true with a reason")
        return self


class RecommendationCreate(StepDate):
    outcome: Outcome
    rationale: str = Field(min_length=1, max_length=10_000)


class DecisionCreate(StepDate):
    outcome: Outcome
    conditions: list[ConditionText] = Field(default_factory=list, max_length=50)
    rationale: str = Field(default="", max_length=10_000)


class StepPublic(BaseModel):
    on: date
    by: str
    role: str
    outcome: str | None = None
    text: str | None = Field(
        default=None, description="Counsel's guidance, a waiver's reason or a rationale: "
                                  "Director's office, Clinical Deputy and County Counsel only",
    )

    @classmethod
    def of(cls, step: Step | None, texts: bool) -> StepPublic | None:
        if step is None:
            return None
        return cls(on=step.on, by=step.by, role=step.role, outcome=step.outcome or None,
                   text=step.text if texts and step.text else None)


class ConditionPublic(BaseModel):
    n: int
    text: str
    met_on: date | None
    met_by: str | None


class Counterpart(BaseModel):
    pseudonym: str | None
    client_ref: str | None
    case_status: str | None = Field(
        description="From the subject's chart for a pseudonym: shown with the finding only")
    case_closed_on: date | None
    unknown: bool | None = Field(
        default=None, description="The pseudonym names no subject here (with the finding only)")


class CasePublic(BaseModel):
    case_id: UUID
    staff_id: str
    kind: str
    counterpart: Counterpart
    began_on: date
    ended_on: date | None
    predates_hire: bool
    hired_on: date
    disclosed_on: date
    disclosed_to: str
    recorded_by: str
    prohibited: bool | None = Field(
        description="The two-year rule's finding: for the Director's office, the Clinical"
                    " Deputy and County Counsel (null for others)")
    prohibition_reason: str | None
    late_report: bool
    days_late: int
    current_step: str
    next_due_on: date | None
    overdue: bool
    age_days: int
    referral: StepPublic | None
    guidance: StepPublic | None
    guidance_waiver: StepPublic | None
    recommendation: StepPublic | None
    decision: StepPublic | None
    conditions: list[ConditionPublic]
    closure: StepPublic | None

    @classmethod
    def of(
        cls, case: DualRelationshipCase, policy: DualRelationshipPolicy, today: date, texts: bool
    ) -> CasePublic:
        """The case as of `today`; the free text of the steps and the two-year finding
        (with a pseudonym's chart status) only when `texts`."""
        d = case.disclosure
        charted = texts or d.counterpart_pseudonym is None  # the discloser's own words
        return cls(
            case_id=case.id, staff_id=d.staff_id, kind=d.kind,
            counterpart=Counterpart(
                pseudonym=d.counterpart_pseudonym, client_ref=d.counterpart_client_ref,
                case_status=d.counterpart_case_status if charted else None,
                case_closed_on=d.counterpart_case_closed_on if charted else None,
                unknown=d.counterpart_unknown if texts else None,
            ),
            began_on=d.began_on, ended_on=d.ended_on, predates_hire=d.predates_hire,
            hired_on=d.hired_on, disclosed_on=d.disclosed_on, disclosed_to=d.disclosed_to,
            recorded_by=case.recorded_by, prohibited=case.prohibited if texts else None,
            prohibition_reason=case.prohibition_reason if texts else None,
            late_report=case.late_report,
            days_late=case.days_late, current_step=case.current_step,
            next_due_on=case.next_due_on(policy), overdue=case.is_overdue(today, policy),
            age_days=case.age_days(today),
            referral=StepPublic.of(case.referral, texts),
            guidance=StepPublic.of(case.guidance, texts),
            guidance_waiver=StepPublic.of(case.guidance_waiver, texts),
            recommendation=StepPublic.of(case.recommendation, texts),
            decision=StepPublic.of(case.decision, texts),
            conditions=[
                ConditionPublic(n=n, text=c.text, met_on=c.met_on, met_by=c.met_by)
                for n, c in enumerate(case.conditions)
            ],
            closure=StepPublic.of(case.closure, texts),
        )


class QueueItem(BaseModel):
    case_id: UUID
    staff_id: str
    kind: str
    disclosed_on: date
    current_step: str
    next_due_on: date | None
    overdue: bool
    age_days: int
    prohibited: bool | None = Field(description="Null outside the Director's office, the"
                                    " Clinical Deputy and County Counsel")
    late_report: bool
    outcome: str | None
    conditions_total: int
    conditions_met: int
    closed: bool


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_offset: int | None
