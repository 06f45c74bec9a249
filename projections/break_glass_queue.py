"""`break_glass_queue`: the privacy officer's review queue of emergency accesses.

Who, which chart, which purpose, when and until when, and the review's outcome. The
clinician's stated reason and the reviewer's notes are free text and stay in the events.
"""

from __future__ import annotations

from domain.access.grants import BreakGlass
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Invoked = event_class(BreakGlass, "Invoked")
Reviewed = event_class(BreakGlass, "Reviewed")

TABLE = Table(
    "break_glass_queue",
    (
        Column("id", "text", False),
        Column("subject_id", "text", False),
        Column("clinician", "text", False),
        Column("pseudonym", "text", False),
        Column("purpose", "text", False),
        Column("invoked_at", "timestamp", False),
        Column("expires_at", "timestamp", False),
        Column("reviewed", "bool", False),
        Column("outcome", "text"),
        Column("reviewed_by", "text"),
        Column("reviewed_at", "timestamp"),
    ),
    key="id",
    indexes=("reviewed",),
)


class BreakGlassQueue(FoldProjection):
    name = "break_glass_queue"
    table = TABLE
    events = (Invoked, Reviewed)

    def fold(self, row: Row | None, event: Event) -> Row | None:
        if isinstance(event, Invoked):
            return {
                "id": str(event.originator_id),
                "subject_id": str(event.subject_id),
                "clinician": event.clinician,
                "pseudonym": event.pseudonym,
                "purpose": event.purpose,
                "invoked_at": event.invoked_at,
                "expires_at": event.expires_at,
                "reviewed": False,
                "outcome": None,
                "reviewed_by": None,
                "reviewed_at": None,
            }
        if row is not None and isinstance(event, Reviewed):
            return {
                **row,
                "reviewed": True,
                "outcome": event.outcome,
                "reviewed_by": event.reviewer,
                "reviewed_at": event.at,
            }
        return row

    # -- queries -------------------------------------------------------------------------
    def pending(self, db: Db) -> list[Row]:
        """Invocations not yet reviewed, oldest first."""
        with db.read() as tx:
            return tx.rows(
                TABLE,
                "reviewed = %s",
                (db.dialect.to_db("bool", False),),
                order_by="invoked_at, id",
            )

    def all(self, db: Db) -> list[Row]:
        with db.read() as tx:
            return tx.rows(TABLE, order_by="invoked_at, id")
