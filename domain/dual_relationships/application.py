"""The dual-relationship context's application service: load, command, commit.

Every method takes the acting principal; the aggregate checks its role at each step, so the
rules hold whichever door (HTTP, CLI, demo) a command comes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from domain.base import ContextApplication, Infrastructure
from domain.dual_relationships import rules
from domain.dual_relationships.aggregate import DualRelationshipCase
from domain.dual_relationships.rules import Actor, Disclosure, DualRelationshipPolicy
from domain.errors import NotFound

DEFAULT_POLICY = DualRelationshipPolicy()


@dataclass(frozen=True)
class CaseStatus:
    """Where a case stands in the Clinical Deputy's queue on a given day."""

    case_id: UUID
    current_step: str
    next_due_on: date | None
    overdue: bool
    age_days: int
    prohibited: bool
    late_report: bool


class DualRelationshipsApplication(ContextApplication):
    name = "dual_relationships"

    def __init__(
        self,
        infrastructure: Infrastructure,
        policy: DualRelationshipPolicy = DEFAULT_POLICY,
    ) -> None:
        super().__init__(infrastructure)
        self.policy = policy

    def disclose(self, actor: Actor, disclosure: Disclosure, now: datetime) -> tuple[UUID, int]:
        """Open a case from a disclosure; returns the new case id and the log position."""
        case = DualRelationshipCase.disclose(uuid4(), disclosure, actor, self.policy, now)
        return case.id, self.commit(case)

    def get(self, case_id: UUID, version: int | None = None) -> DualRelationshipCase:
        case: DualRelationshipCase = self.load(
            case_id, f"dual-relationship case {case_id}", version
        )
        return case

    def status(self, case_id: UUID, today: date) -> CaseStatus:
        """The case's step, due date, whether it is overdue and its age, under this policy."""
        case = self.get(case_id)
        return CaseStatus(
            case_id=case.id,
            current_step=case.current_step,
            next_due_on=case.next_due_on(self.policy),
            overdue=case.is_overdue(today, self.policy),
            age_days=case.age_days(today),
            prohibited=case.prohibited,
            late_report=case.late_report,
        )

    def readable(self, case_id: UUID, actor: Actor) -> DualRelationshipCase:
        """The case, if `actor` may read it; only the Director's office and the Clinical
        Deputy learn that an id names no case (others are refused alike)."""
        try:
            case = self.get(case_id)
        except NotFound:
            if actor.roles & rules.SEE_ALL:
                raise
            raise rules.not_yours(case_id) from None
        if not case.may_read(actor):
            raise rules.not_yours(case_id)
        return case

    def _load_for(self, step: str, case_id: UUID, actor: Actor) -> DualRelationshipCase:
        """Check the role before loading, so a caller without it learns nothing of the
        case; then whether the actor handles it (the aggregate checks again)."""
        rules.require_role(step, actor)
        return self.readable(case_id, actor)

    def refer(self, case_id: UUID, actor: Actor, on: date) -> int:
        case = self._load_for("refer", case_id, actor)
        case.refer(actor, on)
        return self.commit(case)

    def record_guidance(self, case_id: UUID, actor: Actor, guidance: str, on: date) -> int:
        case = self._load_for("guidance", case_id, actor)
        case.record_guidance(actor, guidance, on)
        return self.commit(case)

    def waive_guidance(self, case_id: UUID, actor: Actor, reason: str, on: date) -> int:
        case = self._load_for("waiver", case_id, actor)
        case.waive_guidance(actor, reason, on)
        return self.commit(case)

    def recommend(self, case_id: UUID, actor: Actor, outcome: str, rationale: str, on: date) -> int:
        case = self._load_for("recommendation", case_id, actor)
        case.recommend(actor, outcome, rationale, on)
        return self.commit(case)

    def decide(
        self,
        case_id: UUID,
        actor: Actor,
        outcome: str,
        conditions: list[str],
        on: date,
        rationale: str = "",
    ) -> int:
        case = self._load_for("decision", case_id, actor)
        case.decide(actor, outcome, conditions, on, rationale)
        return self.commit(case)

    def condition_met(self, case_id: UUID, n: int, actor: Actor, on: date) -> int:
        """Condition `n` (0-based, in the order the Director listed them) is met."""
        case = self._load_for("condition_met", case_id, actor)
        case.meet_condition(actor, n, on)
        return self.commit(case)

    def close_case(self, case_id: UUID, actor: Actor, on: date) -> int:
        """Close the case (named so: `close()` shuts an eventsourcing application down)."""
        case = self._load_for("close", case_id, actor)
        case.close(actor, on)
        return self.commit(case)
