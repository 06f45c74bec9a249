"""`effective_access`: the grants each staff member holds on each chart.

Grants only: the deny facts resting on the staff↔client link (self-access, group
co-member, supervisor as clinician) are evaluated by the decision point against keyed
hashes and are never written here (DESIGN §3 item 6). A list, not a decision: the access
decision itself reads the log (`AccessApplication.facts_for`).
"""

from __future__ import annotations

from datetime import datetime

from domain.access.grants import Grant
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Granted = event_class(Grant, "Granted")
Revoked = event_class(Grant, "Revoked")

TABLE = Table(
    "effective_access",
    (
        Column("grant_id", "text", False),
        Column("subject_id", "text", False),
        Column("grantee", "text", False),
        Column("pseudonym", "text", False),
        Column("scope", "text", False),
        Column("purpose", "text", False),
        Column("granted_by", "text", False),
        Column("granted_at", "timestamp", False),
        Column("expires_at", "timestamp", False),
        Column("revoked_at", "timestamp"),
    ),
    key="grant_id",
    indexes=("grantee", "pseudonym"),
)
LIVE = "revoked_at IS NULL AND expires_at > %s"


class EffectiveAccess(FoldProjection):
    name = "effective_access"
    table = TABLE
    events = (Granted, Revoked)

    def fold(self, row: Row | None, event: Event) -> Row | None:
        if isinstance(event, Granted):
            return {
                "grant_id": str(event.originator_id),
                "subject_id": str(event.subject_id),
                "grantee": event.grantee,
                "pseudonym": event.pseudonym,
                "scope": event.scope,
                "purpose": event.purpose,
                "granted_by": event.granted_by,
                "granted_at": event.granted_at,
                "expires_at": event.expires_at,
                "revoked_at": None,
            }
        if row is not None and isinstance(event, Revoked):
            return {**row, "revoked_at": event.at}
        return row

    # -- queries (live grants only: not revoked, not yet expired) --------------------------
    def for_principal(self, db: Db, staff_id: str, now: datetime) -> list[Row]:
        with db.read() as tx:
            return tx.rows(
                TABLE,
                f"grantee = %s AND {LIVE}",
                (staff_id, db.dialect.to_db("timestamp", now)),
                order_by="pseudonym, expires_at, grant_id",
            )

    def for_chart(self, db: Db, pseudonym: str, now: datetime) -> list[Row]:
        with db.read() as tx:
            return tx.rows(
                TABLE,
                f"pseudonym = %s AND {LIVE}",
                (pseudonym, db.dialect.to_db("timestamp", now)),
                order_by="grantee, expires_at, grant_id",
            )

    def grants(self, db: Db) -> list[Row]:
        """Every grant in any state (the privacy officer's list)."""
        with db.read() as tx:
            return tx.rows(TABLE, order_by="granted_at, grant_id")
