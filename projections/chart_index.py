"""`chart_index`: every chart by pseudonym, with its status, dates and entry count."""

from __future__ import annotations

from domain.charts.aggregate import CLOSED, OPEN, Chart
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Opened = event_class(Chart, "Opened")
EntryRecorded = event_class(Chart, "EntryRecorded")
Closed = event_class(Chart, "Closed")
Reopened = event_class(Chart, "Reopened")

TABLE = Table(
    "chart_index",
    (
        Column("chart_id", "text", False),
        Column("subject_id", "text", False),
        Column("pseudonym", "text", False),
        Column("status", "text", False),
        Column("opened_on", "date", False),
        Column("closed_on", "date"),
        Column("entry_count", "int", False),
    ),
    key="chart_id",
    indexes=("pseudonym",),
)


class ChartIndex(FoldProjection):
    name = "chart_index"
    table = TABLE
    events = (Opened, EntryRecorded, Closed, Reopened)

    def fold(self, row: Row | None, event: Event) -> Row | None:
        if isinstance(event, Opened):
            return {
                "chart_id": str(event.originator_id),
                "subject_id": str(event.subject_id),
                "pseudonym": event.pseudonym,
                "status": OPEN,
                "opened_on": event.opened_on,
                "closed_on": None,
                "entry_count": 0,
            }
        if row is None:
            return None
        if isinstance(event, EntryRecorded):
            return {**row, "entry_count": row["entry_count"] + 1}
        if isinstance(event, Closed):
            return {**row, "status": CLOSED, "closed_on": event.closed_on}
        if isinstance(event, Reopened):
            return {**row, "status": OPEN, "closed_on": None}
        return row

    # -- queries -------------------------------------------------------------------------
    def charts(self, db: Db, status: str | None = None) -> list[Row]:
        with db.read() as tx:
            if status is None:
                return tx.rows(TABLE, order_by="pseudonym")
            return tx.rows(TABLE, "status = %s", (status,), order_by="pseudonym")

    def by_pseudonym(self, db: Db, pseudonym: str) -> Row | None:
        with db.read() as tx:
            rows = tx.rows(TABLE, "pseudonym = %s", (pseudonym,))
        return rows[0] if rows else None
