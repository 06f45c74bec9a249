"""`dual_relationship_queue`: the Clinical Deputy's queue of dual-relationship cases.

Each row keeps the dates the policy's clock runs from, so the current step and the next
due date are recomputed on every event with `rules.due_dates` (the aggregate's own rule):
nothing is loaded. Overdue and age depend on the day asked, so `queue()` computes them.
Free text (guidance, rationale, conditions, the counterpart) stays in the events.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.dual_relationships import rules
from domain.dual_relationships.aggregate import STEPS, DualRelationshipCase
from domain.dual_relationships.rules import DualRelationshipPolicy
from domain.staff.aggregate import staff_uuid
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Case = DualRelationshipCase
Disclosed = event_class(Case, "Disclosed")
Referred = event_class(Case, "Referred")
GuidanceRecorded = event_class(Case, "GuidanceRecorded")
GuidanceWaived = event_class(Case, "GuidanceWaived")
Recommended = event_class(Case, "Recommended")
Decided = event_class(Case, "Decided")
ConditionMet = event_class(Case, "ConditionMet")
Closed = event_class(Case, "Closed")
TABLE = Table(
    # v2: recorded_at, so cases otherwise tied keep the order they were recorded in
    "dual_relationship_queue_v2",
    (
        Column("case_id", "text", False),
        Column("subject_id", "text", False),
        Column("staff_id", "text", False),
        Column("kind", "text", False),
        Column("disclosed_on", "date", False),
        Column("recorded_at", "timestamp", False),
        Column("referred_on", "date"),
        Column("guidance_on", "date"),
        Column("recommended_on", "date"),
        Column("decided_on", "date"),
        Column("outcome", "text"),
        Column("conditions_total", "int", False),
        Column("conditions_met", "int", False),
        Column("closed_on", "date"),
        Column("current_step", "text", False),
        Column("prohibited", "bool", False),
        Column("late_report", "bool", False),
        Column("next_due_on", "date"),
        Column("closed", "bool", False),
    ),
    key="case_id",
    indexes=("current_step",),
)


def current_step(row: Row) -> str:
    """What the case waits for, as `DualRelationshipCase.current_step` says it."""
    if row["closed_on"] is not None:
        return "closed"
    if row["referred_on"] is None:
        return "referral"
    waiting = {"guidance": row["guidance_on"], "recommendation": row["recommended_on"]}
    missing = [step for step, on in waiting.items() if on is None]
    if missing:
        return "_and_".join(missing)
    if row["decided_on"] is None:
        return "decision"
    return "conditions" if row["conditions_met"] < row["conditions_total"] else "close"


def next_due_on(row: Row, step: str, policy: DualRelationshipPolicy) -> date | None:
    """As `DualRelationshipCase.next_due_on`: the earliest due date of the pending steps."""
    dues = rules.due_dates(
        row["disclosed_on"], row["referred_on"], row["guidance_on"], row["recommended_on"], policy
    )
    pending = [dues.get(s) for s in step.split("_and_") if s in STEPS]
    return min((d for d in pending if d is not None), default=None)


def _change(event: Any) -> Row:
    """The columns an event (after the disclosure) sets."""
    if isinstance(event, Referred):
        return {"referred_on": event.step["on"]}
    if isinstance(event, (GuidanceRecorded, GuidanceWaived)):
        return {"guidance_on": event.step["on"]}
    if isinstance(event, Recommended):
        return {"recommended_on": event.step["on"]}
    if isinstance(event, Decided):
        step = event.step
        return {
            "decided_on": step["on"],
            "outcome": step["outcome"],
            "conditions_total": len(event.conditions),
        }
    if isinstance(event, Closed):
        return {"closed_on": event.step["on"], "closed": True}
    return {}


class DualRelationshipQueue(FoldProjection):
    name = "dual_relationship_queue_v2"
    table = TABLE
    events = (
        Disclosed,
        Referred,
        GuidanceRecorded,
        GuidanceWaived,
        Recommended,
        Decided,
        ConditionMet,
        Closed,
    )

    def __init__(self, policy: DualRelationshipPolicy | None = None) -> None:
        super().__init__()
        self.policy = policy or DualRelationshipPolicy()

    def fold(self, row: Row | None, event: Event) -> Row | None:
        if isinstance(event, Disclosed):
            new = disclosed_row(event)
        elif row is None:
            return None
        elif isinstance(event, ConditionMet):
            new = {**row, "conditions_met": row["conditions_met"] + 1}
        else:
            new = {**row, **_change(event)}
        step = current_step(new)
        return {**new, "current_step": step, "next_due_on": next_due_on(new, step, self.policy)}

    # -- queries -------------------------------------------------------------------------
    def queue(
        self, db: Db, today: date, status: str | None = None, overdue_only: bool = False
    ) -> list[Row]:
        """Cases with `overdue` and `age_days` as of `today`, the most urgent first.
        `status`: "open", "closed", or a step (e.g. "decision"); None: every case."""
        where, params = [], []
        if status == "open":
            where.append("closed = %s")
            params.append(db.dialect.to_db("bool", False))
        elif status == "closed":
            where.append("closed = %s")
            params.append(db.dialect.to_db("bool", True))
        elif status is not None:
            where.append("current_step = %s")
            params.append(status)
        if overdue_only:
            where.append("next_due_on < %s")
            params.append(db.dialect.to_db("date", today))
        with db.read() as tx:
            rows = tx.rows(TABLE, " AND ".join(where), params, order_by="disclosed_on, recorded_at, case_id")
        return sorted((with_clock(r, today) for r in rows), key=urgency)

    def case(self, db: Db, case_id: str, today: date) -> Row | None:
        with db.read() as tx:
            rows = tx.rows(TABLE, "case_id = %s", (str(case_id),))
        return with_clock(rows[0], today) if rows else None


def disclosed_row(event: Any) -> Row:
    d = event.disclosure
    return {
        "case_id": str(event.originator_id),
        "subject_id": str(staff_uuid(d["staff_id"])),
        "staff_id": d["staff_id"],
        "kind": d["kind"],
        "disclosed_on": d["disclosed_on"],
        "recorded_at": event.recorded_at,
        "referred_on": None,
        "guidance_on": None,
        "recommended_on": None,
        "decided_on": None,
        "outcome": None,
        "conditions_total": 0,
        "conditions_met": 0,
        "closed_on": None,
        "prohibited": bool(event.prohibited),
        "late_report": event.days_late > 0,
        "closed": False,
    }


def with_clock(row: Row, today: date) -> Row:
    due = row["next_due_on"]
    end = row["closed_on"] or today
    return {
        **row,
        "overdue": due is not None and today > due,
        "age_days": (end - row["disclosed_on"]).days,
    }


def urgency(row: Row) -> tuple[Any, ...]:
    due = row["next_due_on"]
    return (not row["overdue"], due is None, due or date.max, row["disclosed_on"],
            row["recorded_at"], row["case_id"])
