"""`audit_index`: one row per audit record, for the auditors' filtered queries.

The entry is already free of names and note text (DESIGN §3 item 2); the precise rule
behind a sequestration denial stays in the director's note, not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.audit.trail import AuditRecord
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Recorded = event_class(AuditRecord, "Recorded")
FIELDS = ("principal", "action", "target", "decision", "rule", "request_id", "purpose",
          "outcome")

TABLE = Table(
    "audit_index",
    (
        Column("record_id", "text", False),
        Column("at", "timestamp", False),
        Column("roles", "text", False),
        *(Column(name, "text") for name in FIELDS),
    ),
    key="record_id",
    indexes=("principal", "target", "at"),
)


class AuditIndex(FoldProjection):
    name = "audit_index"
    table = TABLE
    events = (Recorded,)

    def fold(self, row: Row | None, event: Event) -> Row | None:
        entry: dict[str, Any] = event.entry  # type: ignore[attr-defined]
        return {
            "record_id": str(event.originator_id),
            "at": entry["at"],
            "roles": ",".join(entry.get("roles", [])),
            **{name: entry.get(name) for name in FIELDS},
        }

    def search(
        self,
        db: Db,
        *,
        principal: str | None = None,
        target: str | None = None,
        action: str | None = None,
        decision: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Row]:
        """Records matching every given filter, oldest first."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("principal", principal), ("target", target),
                              ("action", action), ("decision", decision)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        for op, moment in ((">=", since), ("<", until)):
            if moment is not None:
                clauses.append(f"at {op} %s")
                params.append(db.dialect.to_db("timestamp", moment))
        with db.read() as tx:
            rows = tx.rows(TABLE, " AND ".join(clauses), params, order_by="at, record_id")
        return rows[offset : offset + limit]
