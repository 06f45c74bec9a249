"""The dual-relationship case: a staff member's disclosed relationship with a client of
the agency, taken through the county procedure [seed: Dual relationships, Policy development]:
disclosed to the manager → referred to the Clinical Deputy → County Counsel's guidance (or a
recorded waiver) and the Clinical Deputy's recommendation → the Director's decision →
its conditions met → closed.

The case is about the disclosing staff member, so its events are encrypted under that
member's data key: shredding the member's keys shreds their cases too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import KEK_EVENTS, ProtectedAggregate
from domain.dual_relationships import rules
from domain.dual_relationships.rules import Actor, Disclosure, DualRelationshipPolicy
from domain.errors import InvalidInput, OutOfOrder
from domain.staff.aggregate import staff_uuid

STEPS = ("referral", "guidance", "recommendation", "decision")
MISSING_WORDS = {
    "referral": "the manager's referral",
    "guidance": "County Counsel's guidance (or a recorded waiver of it)",
    "recommendation": "the Clinical Deputy's recommendation",
}


@dataclass(frozen=True)
class Step:
    """One recorded step: when, by whom, under which role, and what it said."""

    on: date
    by: str
    role: str
    outcome: str = ""
    text: str = ""


@dataclass(frozen=True)
class Condition:
    """One condition of the Director's decision, and when it was met."""

    text: str
    met_on: date | None = None
    met_by: str | None = None


def _require_text(name: str, text: str) -> str:
    if not text.strip():
        raise InvalidInput(f"the {name} must not be blank")
    return text.strip()


class DualRelationshipCase(ProtectedAggregate):
    """One disclosed relationship and its resolution (data subject: the disclosing member)."""

    kek = KEK_EVENTS

    @staticmethod
    def create_id(case_id: UUID, **_: Any) -> UUID:
        """The id is drawn by the application (uuid4), never inside a replayed body."""
        return case_id

    @event("Disclosed")
    def __init__(
        self,
        case_id: UUID,
        disclosure: dict[str, Any],
        prohibited: bool,
        prohibition_reason: str,
        lookback_months: int | None,
        days_late: int,
        report_within_days: int,
        recorded_by: str,
        recorded_as: str,
        recorded_at: datetime,
    ) -> None:
        self.disclosure = Disclosure(**disclosure)
        self.prohibited = prohibited
        self.prohibition_reason = prohibition_reason
        self.lookback_months = lookback_months
        self.days_late = days_late
        self.report_within_days = report_within_days
        self.recorded_by = recorded_by
        self.recorded_as = recorded_as
        self.recorded_at = recorded_at
        self.referral: Step | None = None
        self.guidance: Step | None = None
        self.guidance_waiver: Step | None = None
        self.recommendation: Step | None = None
        self.decision: Step | None = None
        self.conditions: list[Condition] = []
        self.closure: Step | None = None

    @classmethod
    def disclose(
        cls,
        case_id: UUID,
        disclosure: Disclosure,
        actor: Actor,
        policy: DualRelationshipPolicy,
        now: datetime,
    ) -> DualRelationshipCase:
        """Record a disclosure with the two-year rule's finding and any reporting delay."""
        recorded_as = rules.require_discloser(actor, disclosure.staff_id)
        if now.tzinfo is None:
            raise InvalidInput("the recording time must carry a timezone")
        rules.check_disclosure(disclosure, now.date())
        d = disclosure
        finding = rules.two_year_rule(
            d.kind,
            d.counterpart_case_status,
            d.counterpart_case_closed_on,
            d.began_on,
            d.ended_on,
            policy,
        )
        late = rules.days_late(d.predates_hire, d.hired_on, d.disclosed_on, policy)
        return cls(
            case_id=case_id,
            disclosure=asdict(d),
            prohibited=finding.prohibited,
            prohibition_reason=finding.reason,
            lookback_months=policy.lookback_months,
            days_late=late,
            report_within_days=policy.report_within_days,
            recorded_by=actor.staff_id,
            recorded_as=recorded_as,
            recorded_at=now,
        )

    @property
    def staff_id(self) -> str:
        return self.disclosure.staff_id

    @property
    def handlers(self) -> frozenset[str]:
        """The managers who handle the case: the one it was disclosed to and whoever
        recorded it (the referral must come from one of them, so it adds nobody)."""
        return frozenset({self.disclosure.disclosed_to, self.recorded_by})

    def may_read(self, actor: Actor) -> bool:
        """The Director's office and the Clinical Deputy (every case), County Counsel
        (referred cases), its handling managers and the staff member (its own)."""
        if actor.roles & rules.SEE_ALL or actor.staff_id == self.staff_id:
            return True
        if "county_counsel" in actor.roles and self.referral is not None:
            return True
        return "manager" in actor.roles and actor.staff_id in self.handlers

    def shows_texts(self, actor: Actor) -> bool:
        """Counsel's guidance, a waiver's reason, rationales and the two-year finding
        (which rests on the counterpart's chart): not for the staff member or managers."""
        return bool(actor.roles & rules.SEE_TEXT) and actor.staff_id != self.staff_id

    def require_handler(self, step: str, role: str, actor: Actor) -> None:
        """A manager steps only the cases it handles; County Counsel only referred ones."""
        if role == "manager" and actor.staff_id not in self.handlers:
            raise rules.not_yours(self.id)
        if role == "county_counsel" and self.referral is None:
            raise rules.not_yours(self.id)

    @property
    def data_subject_id(self) -> UUID:
        return staff_uuid(self.disclosure.staff_id)

    @property
    def late_report(self) -> bool:
        """A relationship predating hire was reported after the reporting window."""
        return self.days_late > 0

    @property
    def is_closed(self) -> bool:
        return self.closure is not None

    @property
    def guidance_on(self) -> date | None:
        """When counsel's guidance, or its waiver, was recorded."""
        step = self.guidance or self.guidance_waiver
        return step.on if step else None

    @property
    def unmet_conditions(self) -> list[int]:
        return [n for n, c in enumerate(self.conditions) if c.met_on is None]

    @property
    def current_step(self) -> str:
        """What the case waits for: referral, guidance_and_recommendation, guidance,
        recommendation, decision, conditions, close, or closed."""
        if self.closure:
            return "closed"
        if not self.referral:
            return "referral"
        missing = [s for s in ("guidance", "recommendation") if s in self._missing_for_decision()]
        if missing:
            return "_and_".join(missing)
        if not self.decision:
            return "decision"
        return "conditions" if self.unmet_conditions else "close"

    def _missing_for_decision(self) -> list[str]:
        missing = [] if self.referral else ["referral"]
        if self.guidance_on is None:
            missing.append("guidance")
        if not self.recommendation:
            missing.append("recommendation")
        return missing

    # --- the Clinical Deputy's queue: computed from the policy, never stored -----------

    def due_on(self, step: str, policy: DualRelationshipPolicy) -> date | None:
        """When `step` (referral, guidance, recommendation, decision) falls due, once its
        prerequisites are recorded; None before that."""
        if step not in STEPS:
            raise InvalidInput(f"unknown step {step!r}; choose one of {list(STEPS)}")
        recommended_on = self.recommendation.on if self.recommendation else None
        referred_on = self.referral.on if self.referral else None
        return rules.due_dates(
            self.disclosure.disclosed_on, referred_on, self.guidance_on, recommended_on, policy
        ).get(step)

    def next_due_on(self, policy: DualRelationshipPolicy) -> date | None:
        """The due date of the pending step; None once decided (conditions have no clock)."""
        pending = [s for s in self.current_step.split("_and_") if s in STEPS]
        dues = [d for d in (self.due_on(s, policy) for s in pending) if d is not None]
        return min(dues, default=None)

    def is_overdue(self, today: date, policy: DualRelationshipPolicy) -> bool:
        due = self.next_due_on(policy)
        return due is not None and today > due

    def age_days(self, today: date) -> int:
        """Days since disclosure, stopping at closure."""
        end = self.closure.on if self.closure else today
        return (end - self.disclosure.disclosed_on).days

    # --- the steps -------------------------------------------------------------------

    def _last_step_on(self) -> date:
        steps = (
            self.referral,
            self.guidance,
            self.guidance_waiver,
            self.recommendation,
            self.decision,
            self.closure,
        )
        dates = [s.on for s in steps if s] + [c.met_on for c in self.conditions if c.met_on]
        return max(dates, default=self.disclosure.disclosed_on)

    def _begin(self, step: str, actor: Actor, on: date) -> str:
        """Checks every step shares: role, not one's own case, case still open, a date not
        before the last recorded step. Returns the role the actor acts under."""
        role = rules.require_role(step, actor)
        self.require_handler(step, role, actor)
        rules.require_not_own_case(actor, self.staff_id, step)
        if self.closure:
            raise OutOfOrder(f"dual-relationship case {self.id} was closed on {self.closure.on}")
        rules.require_date("the step date", on)
        last = self._last_step_on()
        if on < last:
            raise InvalidInput(f"the step date {on} is before the case's last step on {last}")
        return role

    def _require_undecided(self, what: str) -> None:
        if self.decision:
            raise OutOfOrder(
                f"{what} cannot be recorded: the case was decided on {self.decision.on}"
            )

    def _require_referred(self, what: str) -> None:
        if not self.referral:
            raise OutOfOrder(f"{what} needs the manager's referral to the Clinical Deputy first")

    def refer(self, actor: Actor, on: date) -> None:
        """The manager acknowledges the disclosure and refers it to the Clinical Deputy."""
        role = self._begin("refer", actor, on)
        if self.referral:
            raise OutOfOrder(
                f"dual-relationship case {self.id} was already referred on {self.referral.on}"
            )
        self._refer(asdict(Step(on, actor.staff_id, role)))

    @event("Referred")
    def _refer(self, step: dict[str, Any]) -> None:
        self.referral = Step(**step)

    def _require_no_guidance(self, what: str) -> None:
        self._require_referred(what)
        self._require_undecided(what)
        if self.guidance or self.guidance_waiver:
            recorded = "guidance" if self.guidance else "a waiver of guidance"
            raise OutOfOrder(f"{what} cannot be recorded: {recorded} was already recorded")

    def record_guidance(self, actor: Actor, guidance: str, on: date) -> None:
        """County Counsel's guidance on the case."""
        role = self._begin("guidance", actor, on)
        self._require_no_guidance("County Counsel's guidance")
        text = _require_text("guidance", guidance)
        self._record_guidance(asdict(Step(on, actor.staff_id, role, text=text)))

    @event("GuidanceRecorded")
    def _record_guidance(self, step: dict[str, Any]) -> None:
        self.guidance = Step(**step)

    def waive_guidance(self, actor: Actor, reason: str, on: date) -> None:
        """The Clinical Deputy or Director proceeds without counsel's guidance, saying why."""
        role = self._begin("waiver", actor, on)
        self._require_no_guidance("a waiver of guidance")
        reason = _require_text("reason for waiving guidance", reason)
        self._waive_guidance(asdict(Step(on, actor.staff_id, role, text=reason)))

    @event("GuidanceWaived")
    def _waive_guidance(self, step: dict[str, Any]) -> None:
        self.guidance_waiver = Step(**step)

    def recommend(self, actor: Actor, outcome: str, rationale: str, on: date) -> None:
        """The Clinical Deputy recommends a resolution to the Director."""
        role = self._begin("recommendation", actor, on)
        self._require_referred("a recommendation")
        self._require_undecided("a recommendation")
        if self.recommendation:
            raise OutOfOrder(f"a recommendation was already recorded on {self.recommendation.on}")
        rules.check_outcome(outcome, self.prohibited)
        text = _require_text("rationale", rationale)
        self._recommend(asdict(Step(on, actor.staff_id, role, outcome=outcome, text=text)))

    @event("Recommended")
    def _recommend(self, step: dict[str, Any]) -> None:
        self.recommendation = Step(**step)

    def decide(
        self, actor: Actor, outcome: str, conditions: list[str], on: date, rationale: str = ""
    ) -> None:
        """The Director decides, once the recommendation and guidance (or waiver) are in."""
        role = self._begin("decision", actor, on)
        self._require_undecided("a decision")
        missing = [MISSING_WORDS[m] for m in self._missing_for_decision()]
        if missing:
            raise OutOfOrder(f"a decision needs {' and '.join(missing)} first")
        rules.check_outcome(outcome, self.prohibited)
        texts = rules.check_conditions(outcome, list(conditions))
        step = Step(on, actor.staff_id, role, outcome=outcome, text=rationale.strip())
        self._decide(asdict(step), texts)

    @event("Decided")
    def _decide(self, step: dict[str, Any], conditions: list[str]) -> None:
        self.decision = Step(**step)
        self.conditions = [Condition(text) for text in conditions]

    def meet_condition(self, actor: Actor, n: int, on: date) -> None:
        """Condition `n` (0-based, in the decision's order) is met."""
        self._begin("condition_met", actor, on)
        if not self.decision:
            raise OutOfOrder("a condition can be met only after the Director's decision")
        if not 0 <= n < len(self.conditions):
            raise InvalidInput(
                f"the decision has no condition {n}; it has {len(self.conditions)}"
                " condition(s), numbered from 0"
            )
        met_on = self.conditions[n].met_on
        if met_on is not None:
            raise OutOfOrder(f"condition {n} was already met on {met_on}")
        self._meet_condition(n, on, actor.staff_id)

    @event("ConditionMet")
    def _meet_condition(self, n: int, on: date, by: str) -> None:
        self.conditions[n] = replace(self.conditions[n], met_on=on, met_by=by)

    def close(self, actor: Actor, on: date) -> None:
        """Close the case once decided and every condition is met."""
        role = self._begin("close", actor, on)
        if not self.decision:
            raise OutOfOrder("a case can be closed only after the Director's decision")
        if self.unmet_conditions:
            raise OutOfOrder(f"condition(s) {self.unmet_conditions} are not met yet")
        self._close(asdict(Step(on, actor.staff_id, role)))

    @event("Closed")
    def _close(self, step: dict[str, Any]) -> None:
        self.closure = Step(**step)
